from django.core.management.base import BaseCommand

from randomization.crypto import new_key


class Command(BaseCommand):
    help = "Print a new key for RANDOMIZATION_KEYS (keep it outside the database and its backups)."

    def handle(self, *args, **options):
        self.stdout.write(new_key())
