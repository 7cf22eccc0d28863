"""Read the trial-data interchange files (contracts.md §3) into an empty database.

Every row of every file is validated first; nothing is written unless all of
it is valid. Then everything is written in one transaction as --user, so the
history and the audit trail name them, with one audit event summing it up.
See ``analysis.interchange`` for the rules where the contract is silent.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from analysis import interchange
from trial.models import Site


class Command(BaseCommand):
    help = (
        "Import screening.csv, participants.csv, visits.csv and adverse_events.csv from DIR "
        "(and administrations.csv when present) into a database without clinical data. "
        "Validates everything first and writes nothing if any row is invalid; problems name "
        "file, row (data rows counted from 1 after the header) and column."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR")
        parser.add_argument("--user", required=True, help="trial username importing (audited)")
        parser.add_argument(
            "--site", help="site code for the imported records (default: the only site)"
        )
        parser.add_argument("--dry-run", action="store_true", help="validate only; write nothing")

    def handle(self, *args, directory, user, site, dry_run, **options):
        try:
            actor = get_user_model().objects.get(username=user, is_active=True)
        except get_user_model().DoesNotExist as error:
            raise CommandError(f"No active user {user!r}") from error
        target = self._site(site)
        validated = interchange.read_files(directory)
        problems = interchange.database_problems() + validated.problems
        if problems:
            shown = problems[: interchange.MAX_REPORTED_PROBLEMS]
            lines = [str(problem) for problem in shown]
            if len(problems) > len(shown):
                lines.append(f"... and {len(problems) - len(shown)} more")
            raise CommandError(
                f"Nothing was imported: {len(problems)} problem(s) found "
                "(row numbers count data rows from 1, after the header):\n" + "\n".join(lines)
            )
        if dry_run:
            self.stdout.write(
                "valid: "
                + ", ".join(
                    f"{name} {len(parsed.rows)} rows" for name, parsed in validated.files.items()
                )
                + " (dry run: nothing written)"
            )
            return
        try:
            summary = interchange.import_files(
                validated, site=target, user=actor, source=str(directory)
            )
        except ValueError as error:
            raise CommandError(f"Nothing was imported: {error}") from error
        self.stdout.write(
            f"imported into {target.code}: "
            + ", ".join(
                f"{value} {name.replace('_', ' ')}" for name, value in summary.as_dict().items()
            )
        )

    def _site(self, code: str | None) -> Site:
        if code:
            try:
                return Site.objects.get(code=code)
            except Site.DoesNotExist as error:
                raise CommandError(f"No site {code!r}") from error
        sites = list(Site.objects.all()[:2])
        if len(sites) != 1:
            raise CommandError(
                "Name the site to import into with --site CODE "
                f"({'no site exists' if not sites else 'there is more than one site'})"
            )
        return sites[0]
