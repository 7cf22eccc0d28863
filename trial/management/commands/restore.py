from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from trial.backup import verify


class Command(BaseCommand):
    help = (
        "Check a backup: --verify restores it into a scratch database and compares the row "
        "counts and the latest audit lines with the manifest written at backup time."
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
        result = verify(Path(path))
        if not result.ok:
            for difference in result.differences:
                self.stdout.write(difference)
            raise CommandError("The backup does not match its manifest.")
        self.stdout.write(
            f"Backup verified: {result.tables} tables restored with the same row counts and "
            "the same latest audit lines."
        )
