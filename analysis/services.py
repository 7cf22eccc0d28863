"""Write layer of analysis: requesting a DSMB analysis run or a PDF report.

Both are queued as Celery tasks on commit; the page shows their progress and
then the stored result.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction

from trial.audit import audit_event

from .models import AnalysisRun, ReportFile

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


def latest_run(*, kind: str, population: str) -> AnalysisRun | None:
    return (
        AnalysisRun.objects.filter(kind=kind, population=population, status="done")
        .order_by("-finished_at")
        .first()
    )


def export_request(*, format: str, unblinded: bool, by):
    """Queue a data export; an unblinded one needs the unblinded permission."""
    from .models import DataExport

    if not by.has_perm("analysis.export_data"):
        raise PermissionDenied
    if unblinded and not by.has_perm("randomization.view_arm"):
        raise PermissionDenied
    with transaction.atomic():
        export = DataExport.objects.create(format=format, unblinded=unblinded, requested_by=by)
        from .tasks import build_export

        transaction.on_commit(lambda: build_export.delay(export.pk))
    return export
