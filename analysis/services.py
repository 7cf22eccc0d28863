"""Write layer of analysis: requesting a DSMB analysis run, a PDF report or a data
export, and recording who opened the dashboard or downloaded a file.

Requests are queued as Celery tasks on commit; the page shows their progress and
then the stored result. An opening or a download is one audit line, written in
``audit_event``'s own transaction; the file itself is read by ``analysis.selectors``
(a file by arm opened there for its reader through ``randomization.unblinded``).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction

from trial.audit import audit_event

from . import selectors
from .models import AnalysisRun, DataExport, ReportFile

POPULATIONS = ("completers", "available")


def _may(kind: str, by) -> bool:
    if kind == AnalysisRun.Kind.CLOSED:
        return by.has_perm("analysis.view_dashboard")
    return by.has_perm("analysis.view_open_report")


def analysis_request(*, kind: str, population: str, by) -> AnalysisRun:
    if not _may(kind, by):
        raise PermissionDenied
    if population not in POPULATIONS:
        population = "completers"
    with transaction.atomic():
        run = AnalysisRun.objects.create(kind=kind, population=population, requested_by=by)
        audit_event(
            user=by,
            model="analysis.AnalysisRun",
            object_id=run.pk,
            summary=f"{kind} analysis requested ({population})",
        )
        from .tasks import compute_analysis

        transaction.on_commit(lambda: compute_analysis.delay(run.pk))
    return run


def report_request(*, run: AnalysisRun, language: str, by) -> ReportFile:
    if not _may(run.kind, by):
        raise PermissionDenied
    with transaction.atomic():
        report = ReportFile.objects.create(run=run, language=language, requested_by=by)
        audit_event(
            user=by,
            model="analysis.ReportFile",
            object_id=report.pk,
            summary=f"{run.kind} report PDF requested ({language})",
        )
        from .tasks import generate_report

        transaction.on_commit(lambda: generate_report.delay(report.pk))
    return report


def dashboard_open(*, by) -> None:
    """Note in the trail that someone opened the DSMB dashboard (results by arm)."""
    if not by.has_perm("analysis.view_dashboard"):
        raise PermissionDenied
    audit_event(user=by, model="analysis.Dashboard", summary="DSMB dashboard opened")


def _record_download(record: ReportFile | DataExport, *, what: str, by) -> None:
    audit_event(
        user=by,
        model=f"analysis.{type(record).__name__}",
        object_id=record.pk,
        summary=f"{what} downloaded: {record.filename}",
    )


def report_download(*, report: ReportFile, by) -> bytes:
    """A PDF report's file for ``by``, the download recorded; a closed report's file is
    stored sealed and opened for those who may see the dashboard."""
    if not _may(report.run.kind, by):
        raise PermissionDenied
    content = selectors.report_file(report, user=by)
    _record_download(report, what="Report", by=by)
    return content


def export_download(*, export: DataExport, by) -> bytes:
    """An export's zip for the person who asked for it, the download recorded. An
    unblinded one needs the arm permission now, not only when it was asked for."""
    if not by.has_perm("analysis.export_data") or export.requested_by_id != by.pk:
        raise PermissionDenied
    content = selectors.export_file(export, user=by)
    _record_download(export, what="Export", by=by)
    return content


def export_request(*, format: str, unblinded: bool, by):
    """Queue a data export; an unblinded one needs the unblinded permission."""
    if not by.has_perm("analysis.export_data"):
        raise PermissionDenied
    if unblinded and not by.has_perm("randomization.view_arm"):
        raise PermissionDenied
    with transaction.atomic():
        export = DataExport.objects.create(format=format, unblinded=unblinded, requested_by=by)
        from .tasks import build_export

        transaction.on_commit(lambda: build_export.delay(export.pk))
    return export
