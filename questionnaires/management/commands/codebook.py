from pathlib import Path

from django.core.management.base import BaseCommand

from questionnaires.codebook import codebook_csv


class Command(BaseCommand):
    help = "Write the data dictionary (item key, label, type, allowed values, instrument, version)."

    def add_arguments(self, parser):
        parser.add_argument("--output", help="CSV file (default: standard output)")
        parser.add_argument("--language", default="en")

    def handle(self, *args, output=None, language="en", **options):
        text = codebook_csv(language)
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stdout.write(f"codebook written to {output}")
        else:
            self.stdout.write(text, ending="")
