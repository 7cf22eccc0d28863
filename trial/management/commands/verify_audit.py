from django.core.management.base import BaseCommand, CommandError

from trial.audit import verify_chain


class Command(BaseCommand):
    help = "Check the audit trail's hash chain; report the first broken link."

    def handle(self, *args, **options):
        result = verify_chain()
        if result.problem:
            where = f"audit line {result.first_broken}" if result.first_broken else "the end"
            raise CommandError(
                f"Audit chain broken at {where}: {result.problem} ({result.checked} lines "
                "checked before it)."
            )
        self.stdout.write(f"Audit chain intact: {result.checked} lines.")
