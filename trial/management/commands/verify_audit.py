from django.core.management.base import BaseCommand, CommandError

from trial.audit import verify_chain


class Command(BaseCommand):
    help = (
        "Check the audit trail: numbering, hash links, content hashes and keyed seals of "
        "every line, and the chain head; report each kind of damage and where."
    )

    def handle(self, *args, **options):
        report = verify_chain()
        if not report.intact:
            for problem in report.problems:
                self.stdout.write(f"{problem.kind}: {problem}")
            raise CommandError(
                f"Audit chain broken at {self._where(report)}: {report.problem} "
                f"({len(report.problems)} problem(s); {report.checked} lines checked)."
            )
        self.stdout.write(f"Audit chain intact: {report.checked} lines.")

    @staticmethod
    def _where(report) -> str:
        first = report.first_broken
        return f"audit line {first}" if first is not None else "the head"
