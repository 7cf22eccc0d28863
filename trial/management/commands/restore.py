"""Management command (operations): prove a backup restores and holds what was backed up."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from trial.backup import BackupError, verify


class Command(BaseCommand):
    help = (
        "Check a backup: --verify restores it into a scratch database and compares each "
        "table's row count and contents, and the latest audit lines, with the manifest "
        "written at backup time."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument(
            "--verify",
            action="store_true",
            required=True,
            help="restore into a scratch database and compare (the live database is never touched)",
        )

    def handle(self, *args, path, **options):
        try:
            result = verify(path=Path(path))
        except BackupError as error:
            raise CommandError(str(error)) from error
        for note in result.notes:
            self.stdout.write(note)
        if not result.ok:
            for difference in result.differences:
                self.stdout.write(difference)
            raise CommandError("The backup does not match its manifest.")
        compared = (
            "the same row counts, the same contents"
            if result.contents_checked
            else "the same row counts"
        )
        self.stdout.write(
            f"Backup verified: {result.tables} tables restored with {compared} and "
            "the same latest audit lines."
        )
