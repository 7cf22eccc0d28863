"""The DSMB report as JSON (contracts.md §4): the numbers the dashboard shows."""

import getpass
import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from analysis.report import build_report
from randomization import unblinded


class Command(BaseCommand):
    help = "Print the DSMB report (closed, by arm) as one JSON object."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print JSON (the only format)")
        parser.add_argument(
            "--population", choices=["completers", "available"], default="completers"
        )
        parser.add_argument(
            "--user",
            help="trial user with the unblinded permission; default: "
            "the server's operating-system user, recorded as such",
        )
        parser.add_argument("--indent", type=int, default=None)

    def handle(self, *args, population, user=None, indent=None, **options):
        reason = f"dsmb_report --json ({population})"
        if user:
            try:
                actor = get_user_model().objects.get(username=user, is_active=True)
            except get_user_model().DoesNotExist as error:
                raise CommandError(f"No active user {user!r}") from error
            if not actor.has_perm("randomization.view_arm"):
                raise CommandError(f"{user} may not see arms")
            arm_of = unblinded.arms_by_participant(user=actor, reason=reason)
        else:
            arm_of = unblinded.arms_for_server_command(os_user=getpass.getuser(), reason=reason)
        report = build_report(
            arm_of=arm_of, population=population, target=settings.ENROLMENT_TARGET
        )
        self.stdout.write(json.dumps(report, indent=indent, allow_nan=False, ensure_ascii=False))
