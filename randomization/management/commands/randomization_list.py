"""Randomization lists from the command line, for statisticians who script.

The same services, permission checks and audit trail as the pages: every
sub-command acts as the named trial user (who must hold the unblinded
statistician's permission) and records the operating-system user too.
"""

import csv
import getpass
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from randomization import lists, services, unblinded
from randomization.models import RandomizationList
from trial.audit import audit_event
from trial.spreadsheet import safe_row


def _ints(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise CommandError(f"Expected whole numbers separated by commas, got {text!r}") from error


class Command(BaseCommand):
    help = "Create, verify and export sealed randomization lists, or print their SAS program."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)

        def common(p):
            p.add_argument("--user", required=True, help="trial username acting (unblinded)")

        create = sub.add_parser("create", help="generate and seal a list")
        common(create)
        create.add_argument("--name", default="MLT main list")
        create.add_argument("--template", choices=lists.TEMPLATES, default="plan")
        create.add_argument("--arms", default="MLT,PLACEBO")
        create.add_argument("--ratio", default="1,1")
        create.add_argument("--block-sizes", default="4")
        create.add_argument("--slots", type=int, required=True)
        create.add_argument("--seed", type=int, help="only to reproduce an existing SAS list")
        create.add_argument("--stratum", default="")
        create.add_argument("--activate", action="store_true")

        for name, text in [
            ("verify", "regenerate a list and compare with its hash"),
            ("export", "write the unblinded list as CSV"),
            ("sas-program", "print the SAS program that regenerates a list"),
            (
                "reveal",
                "print the salt and canonical form behind a list's fingerprint "
                "(final unblinding): anyone can then re-check sha256(salt || canonical)",
            ),
        ]:
            p = sub.add_parser(name, help=text)
            common(p)
            p.add_argument("--list", type=int, required=True, dest="list_id")
            if name == "export":
                p.add_argument("--output", help="file (default: standard output)")
            if name == "reveal":
                p.add_argument(
                    "--canonical-output",
                    help="also write the canonical form's exact bytes to this file",
                )

    def handle(self, *args, action, user, **options):
        try:
            actor = get_user_model().objects.get(username=user, is_active=True)
        except get_user_model().DoesNotExist as error:
            raise CommandError(f"No active user {user!r}") from error
        if not actor.has_perm("randomization.manage_lists"):
            raise CommandError(f"{user} may not manage randomization lists")
        os_user = getpass.getuser()
        try:
            with transaction.atomic():
                audit_event(
                    user=actor,
                    model="randomization.RandomizationList",
                    object_id=options.get("list_id") or "",
                    summary=f"randomization_list {action} run by OS user {os_user}",
                )
                getattr(self, f"do_{action.replace('-', '_')}")(actor, **options)
        except (ValidationError, PermissionDenied) as error:
            messages = getattr(error, "messages", [str(error)])
            raise CommandError("; ".join(str(m) for m in messages)) from error

    def _list(self, list_id: int) -> RandomizationList:
        try:
            return RandomizationList.objects.get(pk=list_id)
        except RandomizationList.DoesNotExist as error:
            raise CommandError(f"No list {list_id}") from error

    def do_create(self, actor, **o):
        rlist = services.list_create(
            spec=services.ListSpec(
                name=o["name"],
                template=o["template"],
                arms=[a.strip() for a in o["arms"].split(",") if a.strip()],
                ratio=_ints(o["ratio"]),
                block_sizes=_ints(o["block_sizes"]),
                n_slots=o["slots"],
                stratum=o["stratum"],
                seed=o["seed"],
            ),
            by=actor,
        )
        if o["activate"]:
            services.list_activate(rlist=rlist, by=actor)
        self.stdout.write(
            f"list {rlist.pk} sealed: {rlist.list_length} slots, sha256 {rlist.sha256}"
        )

    def do_verify(self, actor, **o):
        result = services.list_verify(rlist=self._list(o["list_id"]), by=actor)
        if result.matches:
            self.stdout.write(f"OK: hash {result.stored_hash} matches the regenerated list")
            return
        for difference in result.differences:
            self.stdout.write(difference)
        raise CommandError("verification failed")

    def do_export(self, actor, **o):
        rlist = self._list(o["list_id"])
        rows = unblinded.list_contents(rlist=rlist, user=actor, reason="command-line export")
        handle = open(o["output"], "w", newline="") if o.get("output") else sys.stdout  # noqa: SIM115
        try:
            writer = csv.writer(handle)
            writer.writerow(["position", "sequence", "block", "block_size", "arm", "pack_code"])
            for r in rows:
                writer.writerow(
                    safe_row([r.position, r.sequence, r.block, r.block_size, r.arm, r.pack_code])
                )
        finally:
            if handle is not sys.stdout:
                handle.close()

    def do_sas_program(self, actor, **o):
        rlist = self._list(o["list_id"])
        p = unblinded.list_parameters(rlist=rlist, user=actor, reason="SAS program")
        self.stdout.write(
            lists.sas_program(
                template=p.template,
                seed=p.seed,
                arms=rlist.arms,
                ratio=rlist.ratio,
                block_sizes=p.block_sizes,
                n_slots=rlist.n_slots,
            )
        )

    def do_reveal(self, actor, **o):
        rlist = self._list(o["list_id"])
        opening = services.list_reveal(rlist=rlist, by=actor)
        salted = opening.scheme == lists.COMMITMENT_SALTED
        self.stdout.write(f"list {rlist.pk}: {rlist.name}")
        self.stdout.write(f"scheme: {opening.scheme}")
        self.stdout.write(f"fingerprint: {opening.fingerprint}")
        if salted:
            self.stdout.write(f"salt (hex): {opening.salt.hex()}")
            self.stdout.write(
                "fingerprint = SHA-256 of the salt's 32 bytes, then the canonical form"
            )
        else:
            self.stdout.write("fingerprint = SHA-256 of the canonical form (sealed before salting)")
        self.stdout.write(
            f"canonical form ({len(opening.canonical)} bytes of UTF-8, the next line without "
            "its line break):"
        )
        self.stdout.write(opening.canonical.decode("utf-8"))
        if o.get("canonical_output"):
            Path(o["canonical_output"]).write_bytes(opening.canonical)
            if salted:
                self.stdout.write(
                    f"check: {{ printf %s {opening.salt.hex()} | xxd -r -p; "
                    f"cat {o['canonical_output']}; }} | sha256sum"
                )
            else:
                self.stdout.write(f"check: sha256sum {o['canonical_output']}")
        if opening.matches:
            self.stdout.write("OK: the salt and canonical form give the fingerprint")
        else:
            # Not an error that rolls back: the unblinded read must stay recorded.
            self.stderr.write("FAILED: the stored rows do not give the fingerprint; run verify")
