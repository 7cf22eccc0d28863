"""Management command (operations): write a backup and its manifest."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from trial.backup import BackupError, backup, manifest_path


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump, or an online SQLite copy) with a manifest of row "
        "counts and content hashes taken from the same snapshot; both files are readable "
        "by their owner only."
    )

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
        try:
            backup(path=path)
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"backup written: {path} (manifest {manifest_path(path)})")
