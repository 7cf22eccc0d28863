"""Read layer of the participant core: the only place views get data from.

Access helpers keep the site rule in one place: a user sees the participants
and screenings of the sites they belong to (all sites for trial-wide roles).
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from .eligibility import EXCLUSION_CRITERIA
from .models import AuditEvent, ConsentFormVersion, Participant, Screening, Site


def sites_for_user(*, user) -> QuerySet[Site]:
    if not user.is_authenticated:
        return Site.objects.none()
    if user.is_superuser:
        return Site.objects.all()
    profile = getattr(user, "profile", None)
    if profile is None:
        return Site.objects.none()
    if profile.all_sites:
        return Site.objects.all()
    return profile.sites.all()


def _site_filter(*, user, field: str = "site") -> Q:
    if user.is_superuser:
        return Q()
    profile = getattr(user, "profile", None)
    if profile is None:
        return Q(pk__in=[])
    if profile.all_sites:
        return Q()
    return Q(**{f"{field}__in": profile.sites.values("pk")})


def participants_for_user(*, user, search: str = "") -> QuerySet[Participant]:
    """Participants the user may see, newest study ids last; optional search.

    The search matches the study id or the screening initials. The list is
    ordered by study id, which is assigned at consent and carries nothing
    about allocation.
    """
    queryset = (
        Participant.objects.filter(_site_filter(user=user))
        .select_related("site", "screening")
        .order_by("study_id")
    )
    search = search.strip()
    if search:
        queryset = queryset.filter(
            Q(study_id__icontains=search) | Q(screening__initials__iexact=search)
        )
    return queryset


SITE_NOT_ALLOWED = _("You do not work at this participant's site.")


def _access_refusal(*, participant: Participant, user) -> str:
    """Why this user must not act on this participant (later apps' rules, named in
    settings.PARTICIPANT_ACCESS_RULES: an assessor who learned the arm, say); ''."""
    for path in settings.PARTICIPANT_ACCESS_RULES:
        refusal = import_string(path)(participant=participant, user=user)
        if refusal:
            return str(refusal)
    return ""


def check_participant_access(*, participant: Participant, user) -> None:
    """For services: the actor works at the participant's site and no rule bars them.

    Services call this themselves (defence in depth): a view that forgot it, a
    command or a test cannot act on someone else's participant.
    """
    if not sites_for_user(user=user).filter(pk=participant.site_id).exists():
        raise PermissionDenied(SITE_NOT_ALLOWED)
    refusal = _access_refusal(participant=participant, user=user)
    if refusal:
        raise PermissionDenied(refusal)


def participant_for_user(*, user, study_id: str) -> Participant:
    """One participant the user may see, or 404 (never a hint that it exists elsewhere).

    A participant the user is barred from (settings.PARTICIPANT_ACCESS_RULES) is a
    403 with the reason, on every page that opens a participant.
    """
    participant = (
        Participant.objects.filter(_site_filter(user=user))
        .select_related(
            "site",
            "screening",
            "consent_form_version",
            "consent_taken_by",
            "baseline",
            "baseline__recorded_by",
        )
        .filter(study_id=study_id)
        .first()
    )
    if participant is None:
        raise Http404
    refusal = _access_refusal(participant=participant, user=user)
    if refusal:
        raise PermissionDenied(refusal)
    return participant


def screenings_for_user(
    *,
    user,
    date_from: date | None = None,
    date_to: date | None = None,
    outcome: str = "",
) -> QuerySet[Screening]:
    queryset = Screening.objects.filter(_site_filter(user=user)).select_related(
        "site", "screened_by", "participant"
    )
    if date_from:
        queryset = queryset.filter(screening_date__gte=date_from)
    if date_to:
        queryset = queryset.filter(screening_date__lte=date_to)
    if outcome == "eligible":
        queryset = queryset.filter(eligible=True)
    elif outcome == "ineligible":
        queryset = queryset.filter(eligible=False)
    elif outcome in Screening.ConsentStatus.values:
        queryset = queryset.filter(consent_status=outcome)
    return queryset


def screening_for_user(*, user, pk: int) -> Screening:
    screening = (
        Screening.objects.filter(_site_filter(user=user))
        .select_related("site", "screened_by")
        .filter(pk=pk)
        .first()
    )
    if screening is None:
        raise Http404
    return screening


def screening_counts(queryset: QuerySet[Screening]) -> dict[str, int]:
    """Totals and failures per criterion for a screening queryset, in one query.

    A patient failing several criteria counts under each of them (the CONSORT
    box lists reasons, not a partition).
    """
    aggregates = {
        "screened": Count("pk"),
        "eligible": Count("pk", filter=Q(eligible=True)),
        "ineligible": Count("pk", filter=Q(eligible=False)),
        "consented": Count("pk", filter=Q(consent_status=Screening.ConsentStatus.CONSENTED)),
        "declined": Count("pk", filter=Q(consent_status=Screening.ConsentStatus.DECLINED)),
        "pending": Count("pk", filter=Q(consent_status=Screening.ConsentStatus.PENDING)),
        "incl_female": Count("pk", filter=~Q(sex="female")),
        "incl_diagnosis": Count("pk", filter=Q(confirmed_diagnosis=False)),
    }
    for key in EXCLUSION_CRITERIA:
        aggregates[key] = Count("pk", filter=Q(**{key: True}))
    # Aggregate aliases may not shadow field names (``eligible``, ``excl_age``).
    totals = queryset.order_by().aggregate(**{f"n_{k}": v for k, v in aggregates.items()})
    return {key[2:]: value for key, value in totals.items()}


def earlier_screenings(*, user, hospital_number: str, exclude_pk: int | None = None):
    """Earlier screenings of the same hospital number that the user may see."""
    if not hospital_number.strip():
        return Screening.objects.none()  # imported screenings carry no hospital number
    queryset = Screening.objects.filter(_site_filter(user=user)).filter(
        hospital_number__iexact=hospital_number.strip()
    )
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    return queryset.order_by("-screening_date")


def consent_form_versions_in_use() -> QuerySet[ConsentFormVersion]:
    return ConsentFormVersion.objects.filter(active=True)


def audit_events(
    *,
    user,
    subject: str = "",
    username: str = "",
    model: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    """The audit trail, filtered; only for holders of ``trial.view_audit_trail``."""
    if not user.has_perm("trial.view_audit_trail"):
        raise PermissionDenied
    queryset = AuditEvent.objects.all()
    if subject:
        queryset = queryset.filter(subject__iexact=subject.strip())
    if username:
        queryset = queryset.filter(username__iexact=username.strip())
    if model:
        queryset = queryset.filter(model=model)
    if date_from:
        queryset = queryset.filter(at__date__gte=date_from)
    if date_to:
        queryset = queryset.filter(at__date__lte=date_to)
    return queryset


def audit_models() -> list[str]:
    return list(AuditEvent.objects.order_by().values_list("model", flat=True).distinct())


# Audit lines about unblinded activity (who read an arm, when): shown on a
# participant's page only to those who may see arms, since even the pattern of
# unblinded reads is information a blinded person should not have.
UNBLINDED_AUDIT_MODELS = ("randomization.ArmAccess",)


def participant_history(*, participant: Participant, user) -> QuerySet[AuditEvent]:
    """The audit lines about one participant and their screening, newest first."""
    events = AuditEvent.objects.filter(
        subject__in=[participant.study_id, participant.screening.screening_id]
    )
    if not user.has_perm("randomization.view_arm"):
        events = events.exclude(model__in=UNBLINDED_AUDIT_MODELS)
    return events
