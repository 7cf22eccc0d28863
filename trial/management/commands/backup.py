from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from trial.backup import backup


class Command(BaseCommand):
    help = "Back up the database (pg_dump, or an online SQLite copy) with a manifest."

    def add_arguments(self, parser):
        parser.add_argument("--output", help="file to write (default: backups/<timestamp>)")

    def handle(self, *args, output=None, **options):
        path = (
            Path(output)
            if output
            else (
                Path(settings.BASE_DIR) / "backups" / f"trial-{timezone.now():%Y%m%dT%H%M%S}.backup"
            )
        )
        backup(path)
        self.stdout.write(f"backup written: {path} (manifest {path}.manifest.json)")
