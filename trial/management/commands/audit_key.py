from django.core.management.base import BaseCommand

from trial.audit import _new_audit_key


class Command(BaseCommand):
    help = (
        "Print a new key for AUDIT_KEYS (keep it outside the database and its backups, "
        "and never reuse a RANDOMIZATION_KEYS value)."
    )

    def handle(self, *args, **options):
        self.stdout.write(_new_audit_key())
