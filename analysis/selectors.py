"""Read layer of the analysis app: the querysets its exports and pages read.

Each section says whose reads it holds and what scoping applies.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from followup.models import AdverseEvent, Visit
from questionnaires.models import Response
from randomization import unblinded
from randomization.models import Slot
from trial.models import Participant, Screening

from .interchange_columns import DONE_STATUSES
from .models import AnalysisRun, DataExport, ReportFile, Status

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


# --- dashboard and reports ----------------------------------------------------------------
#
# The reads of the DSMB dashboard, the open report, their PDF reports and the data
# manager's export page. Who may read what is checked here: a closed (by-arm) run and
# its reports need ``analysis.view_dashboard``, an open one ``analysis.view_open_report``
# (``PermissionDenied``); a closed run's sealed result is opened only through
# ``randomization.unblinded``, which checks the reader again. An export is read only by
# the person who asked for it (anyone else's is not found).


def _check_kind(user, kind: str) -> None:
    permission = (
        "analysis.view_dashboard"
        if kind == AnalysisRun.Kind.CLOSED
        else "analysis.view_open_report"
    )
    if not user.has_perm(permission):
        raise PermissionDenied


def latest_run(*, kind: str, population: str, user) -> AnalysisRun | None:
    """The newest finished run of this kind and population; a closed one opened for
    ``user`` (its result, figures and data hash are stored sealed)."""
    _check_kind(user, kind)
    run = (
        AnalysisRun.objects.filter(kind=kind, population=population, status=Status.DONE)
        .order_by("-finished_at")
        .first()
    )
    if run is not None and kind == AnalysisRun.Kind.CLOSED:
        unblinded.open_closed_run(run, user=user)
    return run


def pending_run(*, kind: str, population: str) -> AnalysisRun | None:
    """The newest run still queued or being computed (the page shows its progress)."""
    return (
        AnalysisRun.objects.filter(
            kind=kind, population=population, status__in=[Status.QUEUED, Status.RUNNING]
        )
        .order_by("-requested_at")
        .first()
    )


def recent_reports(*, run: AnalysisRun | None, limit: int = 5) -> list[ReportFile]:
    """The PDF reports last asked for from ``run``."""
    if run is None:
        return []
    return list(ReportFile.objects.filter(run=run).order_by("-requested_at")[:limit])


def run_for_user(*, user, pk: int, done: bool = False) -> AnalysisRun:
    """One run (404; only a finished one with ``done``) that ``user`` may read (403)."""
    runs = AnalysisRun.objects.filter(status=Status.DONE) if done else AnalysisRun.objects.all()
    run = get_object_or_404(runs, pk=pk)
    _check_kind(user, run.kind)
    return run


def _expired(record, now) -> bool:
    return bool(record.expires_at and record.expires_at < now) or not record.content


def report_for_user(*, user, pk: int, downloadable: bool = False) -> ReportFile:
    """One PDF report, with its run, that ``user`` may read (403); with ``downloadable``
    only a finished one whose file is still kept (404)."""
    reports = ReportFile.objects.select_related("run")
    if downloadable:
        reports = reports.filter(status=Status.DONE)
    report = get_object_or_404(reports, pk=pk)
    _check_kind(user, report.run.kind)
    if downloadable and _expired(report, timezone.now()):
        raise Http404
    return report


def report_file(report: ReportFile, *, user) -> bytes:
    """A report's PDF for ``user``: a closed report's is stored sealed and opened only
    for those who may see the dashboard."""
    if report.run.kind == AnalysisRun.Kind.CLOSED:
        return unblinded.open_closed_report(report, user=user)
    return bytes(report.content)


def exports_for_user(*, user, limit: int = 20) -> QuerySet[DataExport]:
    """The exports ``user`` asked for, newest first, without their files."""
    return DataExport.objects.filter(requested_by=user).defer("content")[:limit]


def export_for_user(*, user, pk: int, downloadable: bool = False) -> DataExport:
    """One of ``user``'s own exports (404 for anyone else's); with ``downloadable`` only
    a finished one whose file is still kept, else without its file."""
    if not downloadable:
        return get_object_or_404(DataExport.objects.defer("content"), pk=pk, requested_by=user)
    export = get_object_or_404(DataExport, pk=pk, requested_by=user, status=Status.DONE)
    if _expired(export, timezone.now()):
        raise Http404
    return export


def export_file(export: DataExport, *, user) -> bytes:
    """An export's zip for ``user``: an unblinded one is stored sealed and opened only
    for someone who holds the arm permission now."""
    if export.unblinded:
        return unblinded.open_unblinded_export(export, user=user)
    return bytes(export.content)
