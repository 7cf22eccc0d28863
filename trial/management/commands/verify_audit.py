"""Management command (operations): check the audit chain, against its anchors when kept."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from trial.anchor import (
    AnchorError,
    AnchorLine,
    anchor_file_path,
    anchor_file_read,
    anchor_line_problems,
    tsa_cert_path,
    tsa_verifier,
)
from trial.audit import Problem, verify_chain
from trial.models import AuditEvent


class Command(BaseCommand):
    help = (
        "Check the audit trail: numbering, hash links, content hashes and keyed seals of "
        "every line, and the chain head; with anchors (heads recorded outside the database: "
        "--anchors FILE.jsonl, default the AUDIT_ANCHOR_DIR file) also that each anchored "
        "line is still there unchanged, and each anchor's RFC 3161 time-stamp. Report each "
        "kind of damage and where."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchors",
            action="append",
            default=[],
            metavar="PATH",
            help="an anchor file (.jsonl) to check against; may be given several times "
            "(default: AUDIT_ANCHOR_DIR/audit-anchors.jsonl when it exists)",
        )

    def handle(self, *args, anchors=(), **options):
        paths = [Path(path) for path in anchors]
        for path in paths:
            if not path.is_file():
                raise CommandError(f"No anchor file at {path}.")
        if not paths:
            configured = anchor_file_path()
            if configured is not None and configured.is_file():
                paths = [configured]
        lines: list[AnchorLine] = []
        for path in paths:
            lines += anchor_file_read(path=path)
        anchor_problems, stamps = self._anchor_line_problems(lines)

        # An anchor of an empty trail asserts nothing about its lines; and one head
        # anchored daily while nothing changed is one check, not many.
        by_head: dict[tuple[int, str], list[str]] = {}
        chain_anchors = []
        for line in lines:
            if line.data is None or line.data["sequence"] == 0:
                continue
            anchor = line.chain_anchor()
            head = (anchor.sequence, anchor.entry_hash)
            if head not in by_head:
                chain_anchors.append(anchor)
            by_head.setdefault(head, []).append(line.source)
        report = verify_chain(anchors=chain_anchors)

        if paths:
            self.stdout.write(
                f"Anchors checked: {len(lines)} from {', '.join(str(p) for p in paths)}."
            )
        else:
            self.stdout.write(
                "Anchors checked: 0 (no anchor file: a trail deleted or replaced whole "
                "cannot be told from a new one)."
            )
        if stamps:
            self.stdout.write(stamps)
        for problem in report.problems:
            self.stdout.write(f"{problem.kind}: {problem}{self._sources(problem, by_head)}")
        for problem in anchor_problems:
            self.stdout.write(f"{Problem.ANCHOR}: {problem}")
        if not report.intact:
            raise CommandError(
                f"Audit chain broken at {self._where(report)}: {report.problem} "
                f"({len(report.problems)} problem(s); {report.checked} lines checked)."
            )
        if anchor_problems:
            raise CommandError(
                f"Audit anchors damaged: {anchor_problems[0]} ({len(anchor_problems)} "
                f"problem(s); the chain itself is intact: {report.checked} lines)."
            )
        self.stdout.write(f"Audit chain intact: {report.checked} lines.")

    @staticmethod
    def _anchor_line_problems(lines: list[AnchorLine]) -> tuple[list[str], str]:
        """Problems of the anchor lines themselves, and a line saying what was checked."""
        stamped = [line for line in lines if line.data and "timestamp_token" in line.data]
        verifier = None
        if stamped and tsa_cert_path():
            try:
                verifier = tsa_verifier(cert_path=tsa_cert_path())
            except AnchorError as error:
                raise CommandError(str(error)) from error
        problems: list[str] = []
        for line in lines:
            problems += anchor_line_problems(line=line, verifier=verifier)
        if not stamped:
            return problems, ""
        how = (
            "signatures checked against AUDIT_TSA_CERT"
            if verifier
            else "signatures not checked: set AUDIT_TSA_CERT"
        )
        return problems, f"Time-stamp tokens: {len(stamped)} ({how})."

    @staticmethod
    def _sources(problem, by_head: dict[tuple[int, str], list[str]]) -> str:
        """Which anchor lines a chain problem about an anchor came from."""
        if problem.kind != Problem.ANCHOR:
            return ""
        # Several anchors may name this line; the ones that differ from it are to blame.
        actual = set(
            AuditEvent.objects.filter(sequence=problem.first).values_list("entry_hash", flat=True)
        )
        sources = [
            source
            for (sequence, entry_hash), found in by_head.items()
            if sequence == problem.first and entry_hash not in actual
            for source in found
        ]
        return f" [anchor {', '.join(sources)}]" if sources else ""

    @staticmethod
    def _where(report) -> str:
        first = report.first_broken
        return f"audit line {first}" if first is not None else "the head"
