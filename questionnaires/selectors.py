"""Read layer of questionnaire capture."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from .models import Response, SafetyAlert
from .visits import visit_codes


def responses_of(*, participant) -> dict[tuple[str, str], Response]:
    """A participant's responses keyed by (visit, instrument), in one query."""
    return {
        (r.visit, r.instrument): r
        for r in Response.objects.filter(participant=participant).only(
            "id", "visit", "instrument", "scores", "administered_on", "participant_id"
        )
    }


def response_for(*, participant, visit: str, instrument: str) -> Response | None:
    if visit not in visit_codes():
        raise Http404
    return (
        Response.objects.select_related("entered_by", "participant")
        .filter(participant=participant, visit=visit, instrument=instrument)
        .first()
    )


def open_alerts_for_user(*, user) -> QuerySet[SafetyAlert]:
    """Open alerts at the user's sites (investigators and nurses see them until acknowledged)."""
    from trial.selectors import sites_for_user

    return (
        SafetyAlert.objects.filter(
            acknowledged_at__isnull=True, participant__site__in=sites_for_user(user=user)
        )
        .select_related("participant", "response")
        .order_by("raised_at")
    )


def alerts_for_user(*, user) -> QuerySet[SafetyAlert]:
    from trial.selectors import sites_for_user

    return (
        SafetyAlert.objects.filter(participant__site__in=sites_for_user(user=user))
        .select_related("participant", "response", "acknowledged_by")
        .order_by("acknowledged_at", "-raised_at")
    )
