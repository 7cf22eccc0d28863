"""Read layer of follow-up: worklists, call lists and visit pages.

The assessor's reads never touch adverse events, adherence, status reasons or
anything from randomization: their pages are built from visits, contact
attempts, interviews and contact details only.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from trial.models import ParticipantStatus
from trial.selectors import sites_for_user

from .models import (
    OPEN_STATUSES,
    Adherence,
    AdverseEvent,
    AssessorExclusion,
    ContactAttempt,
    ContactDetails,
    PhoneInterview,
    Visit,
)

WORKLIST_FILTERS = ("today", "in_window", "overdue", "upcoming")
SORTS = {
    "window": ("window_closes", "participant__study_id"),
    "target": ("target_date", "participant__study_id"),
    "study_id": ("participant__study_id", "target_date"),
}


def _attempt_count(**conditions):
    counted = (
        ContactAttempt.objects.filter(visit=OuterRef("pk"), **conditions)
        .order_by()
        .values("visit")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _base(*, user) -> QuerySet[Visit]:
    return (
        Visit.objects.filter(
            participant__site__in=sites_for_user(user=user),
            participant__status=ParticipantStatus.ON_STUDY,
            status__in=OPEN_STATUSES,
        )
        .select_related(
            "participant", "participant__contact", "participant__site", "participant__screening"
        )
        # Correlated counts rather than a GROUP BY over the whole join: PostgreSQL
        # then counts each listed visit's attempts through the visit index.
        .annotate(
            attempts=_attempt_count(),
            failed_attempts=_attempt_count(outcome__in=["no_answer", "wrong_number"]),
        )
    )


def _filtered(queryset: QuerySet[Visit], *, which: str, today: date) -> QuerySet[Visit]:
    if which == "today":
        return queryset.filter(target_date=today)
    if which == "overdue":
        return queryset.filter(window_closes__lt=today)
    if which == "upcoming":
        return queryset.filter(window_opens__gt=today, window_opens__lte=today + timedelta(days=14))
    return queryset.filter(window_opens__lte=today, window_closes__gte=today)


def worklist(*, user, which: str = "in_window", sort: str = "window", today=None):
    """The nurse's follow-up visits at her sites."""
    today = today or timezone.localdate()
    queryset = _filtered(_base(user=user), which=which, today=today)
    return queryset.order_by(*SORTS.get(sort, SORTS["window"]))


def call_list(*, user, which: str = "in_window", sort: str = "window", today=None):
    """The assessor's calls: like the worklist, less participants this assessor became
    unblinded for (those calls go to another assessor)."""
    today = today or timezone.localdate()
    excluded = AssessorExclusion.objects.filter(participant=OuterRef("participant"), assessor=user)
    queryset = _filtered(_base(user=user), which=which, today=today).filter(~Exists(excluded))
    return queryset.order_by(*SORTS.get(sort, SORTS["window"]))


def digest_visits_for(*, user, today: date) -> list[Visit]:
    """What a nurse's or assessor's daily digest lists: due today, in window, overdue."""
    lister = call_list if user.has_perm("followup.view_call_list") else worklist
    open_now = lister(user=user, which="in_window", today=today)
    overdue = lister(user=user, which="overdue", today=today)
    return list(open_now) + list(overdue)


def visit_for_user(*, user, pk: int) -> Visit:
    visit = (
        Visit.objects.filter(participant__site__in=sites_for_user(user=user), pk=pk)
        .select_related(
            "participant", "participant__contact", "participant__site", "participant__screening"
        )
        .first()
    )
    if visit is None:
        raise Http404
    return visit


def visits_of(*, participant) -> QuerySet[Visit]:
    return Visit.objects.filter(participant=participant).order_by("target_date")


def contact_attempts_of(*, visit) -> QuerySet[ContactAttempt]:
    """A visit's contact attempts, with who made each (the call page and the visit page)."""
    return ContactAttempt.objects.filter(visit=visit).select_related("by")


def interview_of(*, visit) -> PhoneInterview | None:
    """The visit's recorded telephone interview, if the call has been finished."""
    return PhoneInterview.objects.filter(visit=visit).first()


def contact_details_of(*, participant) -> ContactDetails | None:
    return ContactDetails.objects.filter(participant=participant).first()


def adherence_of(*, participant) -> Adherence | None:
    """The 3-month adherence count; only for those who may see it (the view checks)."""
    return Adherence.objects.filter(participant=participant).first()


def assessor_excluded(*, participant, user) -> bool:
    return AssessorExclusion.objects.filter(participant=participant, assessor=user).exists()


def assessor_exclusion_refusal(*, participant, user) -> str:
    """An assessor who learned this participant's arm is barred from them everywhere
    (their calls and questionnaires go to another assessor). Only assessors are
    ever excluded, so nobody else pays the query."""
    if not user.has_perm("followup.conduct_interview"):
        return ""
    if assessor_excluded(participant=participant, user=user):
        from .services import ASSESSOR_EXCLUDED

        return str(ASSESSOR_EXCLUDED)
    return ""


def adverse_events_of(*, participant) -> QuerySet[AdverseEvent]:
    return AdverseEvent.objects.filter(participant=participant).select_related("reviewed_by")


def adverse_event_of(*, participant, pk: int) -> AdverseEvent:
    """One of this participant's adverse events (404 for anyone else's)."""
    event = AdverseEvent.objects.filter(participant=participant, pk=pk).first()
    if event is None:
        raise Http404
    return event


def serious_events_for(*, user) -> QuerySet[AdverseEvent]:
    """Serious adverse events at the user's sites, those awaiting review first."""
    return (
        AdverseEvent.objects.filter(serious=True, participant__site__in=sites_for_user(user=user))
        .select_related("participant", "reviewed_by", "reported_by")
        .order_by("reviewed_at", "-onset_date")
    )
