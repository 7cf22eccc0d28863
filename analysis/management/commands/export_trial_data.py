"""Write the trial-data interchange files (contracts.md §3), blinded unless asked otherwise."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from analysis import interchange


class Command(BaseCommand):
    help = (
        "Write screening.csv, participants.csv, visits.csv and adverse_events.csv into DIR "
        "(contracts.md §3), and administrations.csv beside them (each questionnaire's date, "
        "mode and language, read back by import_trial_data). The arm column stays empty "
        "unless --unblinded is given with a --user who may see arms. Audited, with the "
        "operating-system user."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR", help="directory to write (created)")
        parser.add_argument(
            "--unblinded",
            action="store_true",
            help="fill the arm column (needs --user with randomization.view_arm; logged)",
        )
        parser.add_argument("--user", help="trial username acting (recorded in the audit trail)")
        parser.add_argument(
            "--xpt",
            action="store_true",
            help="also write SAS transport files (one .xpt per table; needs pyreadstat)",
        )
        parser.add_argument(
            "--odm", action="store_true", help="also write trial_data.odm.xml (CDISC ODM 1.3)"
        )

    def handle(self, *args, directory, unblinded, user, xpt, odm, **options):
        actor = None
        if user:
            try:
                actor = get_user_model().objects.get(username=user, is_active=True)
            except get_user_model().DoesNotExist as error:
                raise CommandError(f"No active user {user!r}") from error
        if unblinded and actor is None:
            raise CommandError("--unblinded needs --user: a user who may see arms")
        if unblinded and not actor.has_perm("randomization.view_arm"):
            raise CommandError(
                f"{user} may not see arms (randomization.view_arm): "
                "export without --unblinded, or as an unblinded user"
            )
        formats = ("csv",) + (("xpt",) if xpt else ()) + (("odm",) if odm else ())
        try:
            rows = interchange.export_files(
                directory, user=actor, unblinded=unblinded, formats=formats
            )
            if xpt or odm:
                from analysis import exports

                tables = exports.frames(rows)
                if xpt:
                    exports.write_xpt(tables, directory)
                if odm:
                    exports.write_odm(tables, Path(directory) / "trial_data.odm.xml")
        except PermissionDenied as error:
            raise CommandError(str(error) or "Permission denied") from error
        self.stdout.write(
            f"{'unblinded' if unblinded else 'blinded'} export written to {directory}: "
            + ", ".join(f"{name} {len(table)} rows" for name, table in rows.items())
        )
