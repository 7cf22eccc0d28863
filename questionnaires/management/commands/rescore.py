"""Recompute stored scores with the current scoring rules; audited; reports what changed."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from questionnaires.models import InstrumentKey, Response
from questionnaires.services import response_rescore
from questionnaires.visits import visit_codes


class Command(BaseCommand):
    help = "Rescore chosen questionnaire responses with the current scoring version."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="data manager acting (audited)")
        parser.add_argument("--reason", required=True, help="why (recorded in the audit trail)")
        parser.add_argument("--instrument", choices=InstrumentKey.values)
        parser.add_argument("--visit", choices=visit_codes())
        parser.add_argument("--participant", help="study id")
        parser.add_argument("--all", action="store_true", help="every response (no filter)")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, **o):
        try:
            user = get_user_model().objects.get(username=o["user"], is_active=True)
        except get_user_model().DoesNotExist as error:
            raise CommandError(f"No active user {o['user']!r}") from error
        if not user.has_perm("questionnaires.rescore_responses"):
            raise CommandError(f"{o['user']} may not rescore (data manager only)")
        responses = Response.objects.select_related("participant").order_by("pk")
        if o["instrument"]:
            responses = responses.filter(instrument=o["instrument"])
        if o["visit"]:
            responses = responses.filter(visit=o["visit"])
        if o["participant"]:
            responses = responses.filter(participant__study_id=o["participant"])
        if not (o["all"] or o["instrument"] or o["visit"] or o["participant"]):
            raise CommandError("Choose responses (--instrument, --visit, --participant) or --all")
        changed = examined = 0
        for response in responses.iterator():
            examined += 1
            if o["dry_run"]:
                continue
            result = response_rescore(response=response, by=user, reason=o["reason"])
            if result is None:
                continue
            changed += 1
            details = ", ".join(f"{k}: {old} -> {new}" for k, (old, new) in result.changes.items())
            self.stdout.write(
                f"{response.participant.study_id} {response.visit} {response.instrument}: "
                f"{result.old_version} -> {result.new_version}; {details or 'scores unchanged'}"
            )
        self.stdout.write(f"{examined} examined, {changed} rescored")
