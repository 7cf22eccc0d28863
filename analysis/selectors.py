"""Read layer of the analysis app: the querysets its exports and pages read.

Each section says whose reads it holds and what scoping applies.
"""

from __future__ import annotations

from django.db.models import QuerySet

from followup.models import AdverseEvent, Visit
from questionnaires.models import Response
from randomization.models import Slot
from trial.models import Participant, Screening

from .interchange_columns import DONE_STATUSES

# --------------------------------------------------------------------------- interchange files
#
# The reads of the trial-data files (contracts.md §3, ``analysis.interchange``). They
# are trial-wide, not scoped to a site: the files hold the whole trial, and who may
# export or import is checked by the commands and the export page. Each queryset is
# ordered as the export writes it (or sorted afterwards, said below) and joins what
# the rows need, so it can be iterated once without a query per row. No arm is read
# here: arms come only through ``randomization.unblinded`` (``interchange_export``).


def screenings_for_export() -> QuerySet[Screening]:
    """Every screening, by screening id, with its participant."""
    return Screening.objects.select_related("participant").order_by("screening_id")


def participants_for_export() -> QuerySet[Participant]:
    """Every participant, by study id, with screening, baseline and allocation."""
    return Participant.objects.select_related("screening", "baseline", "allocation").order_by(
        "study_id"
    )


def responses_for_export() -> QuerySet[Response]:
    """Every questionnaire response in the order it was given, with its participant."""
    return Response.objects.select_related("participant").order_by("administered_on", "pk")


def visits_done_for_export() -> QuerySet[Visit]:
    """Follow-up visits done (in or out of window) with their date, with the participant.

    Unordered: each (participant, visit) is one row of visits.csv, which the export sorts.
    """
    return Visit.objects.filter(status__in=DONE_STATUSES, done_on__isnull=False).select_related(
        "participant"
    )


def adverse_events_for_export() -> QuerySet[AdverseEvent]:
    """Every adverse event with its participant; the export sorts them by their cells."""
    return AdverseEvent.objects.select_related("participant")


def sealed_list_packs() -> dict[str, str]:
    """The pack codes of the randomization lists in this database, with each list's name
    (an imported pack code must not be one of them)."""
    return dict(Slot.objects.values_list("pack_code", "randomization_list__name"))


def clinical_record_counts() -> tuple[int, int]:
    """How many screenings and participants the database holds (the import needs none)."""
    return Screening.objects.count(), Participant.objects.count()
