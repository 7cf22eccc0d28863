"""Celery tasks of analysis: the heavy DSMB computation and the PDF reports.

Both take ids, record progress on their row for the page to show, and are safe
to run twice (a second run recomputes the same numbers from the same data).
"""

from __future__ import annotations

import traceback
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from randomization.crypto import seal_bytes, seal_document

from .models import AnalysisRun, ReportFile, Status


def _progress(model, pk):
    def update(percent: int, step: str = "") -> None:
        model.objects.filter(pk=pk).update(progress=percent, **({"step": step} if step else {}))

    return update


@shared_task(time_limit=1800, soft_time_limit=1700)
def compute_analysis(run_id: int) -> str:
    from randomization import unblinded

    from .figures import figures_by_language
    from .report import build_report

    run = AnalysisRun.objects.select_related("requested_by").get(pk=run_id)
    AnalysisRun.objects.filter(pk=run_id).update(status=Status.RUNNING, progress=1)
    try:
        if run.kind == AnalysisRun.Kind.CLOSED:
            with transaction.atomic():
                arm_of = unblinded.arms_by_participant(
                    user=run.requested_by, reason=f"DSMB analysis run {run.pk}"
                )
        else:
            arm_of = None
        result = build_report(
            arm_of=arm_of,
            population=run.population,
            target=settings.ENROLMENT_TARGET,
            progress=_progress(AnalysisRun, run_id),
        )
        figures = figures_by_language(result)
    except Exception as error:  # noqa: BLE001 - the failure is shown on the page, not lost
        AnalysisRun.objects.filter(pk=run_id).update(
            status=Status.FAILED,
            error=_failure(error, closed=run.kind == AnalysisRun.Kind.CLOSED),
            finished_at=timezone.now(),
        )
        raise
    if run.kind == AnalysisRun.Kind.CLOSED:
        stored = {
            "sealed_payload": seal_document(
                {"result": result, "figures": figures, "data_sha256": result["data_sha256"]}
            )
        }
    else:
        stored = {"result": result, "figures": figures, "data_sha256": result["data_sha256"]}
    AnalysisRun.objects.filter(pk=run_id).update(
        status=Status.DONE, progress=100, step="", finished_at=timezone.now(), **stored
    )
    # The task's return value lands in the result backend (Redis): nothing by arm.
    return "done"


def _failure(error: BaseException, *, closed: bool) -> str:
    """What a failed run's page shows. A closed run's traceback may hold values by
    arm (its locals are the DSMB's data), so only the kind of error is kept; the
    worker's log has the rest."""
    if closed:
        return f"{type(error).__name__} (details in the worker's log)"
    return traceback.format_exc()[-4000:]


@shared_task(time_limit=600, soft_time_limit=540)
def generate_report(report_id: int) -> str:
    from weasyprint import HTML

    from randomization import unblinded

    report = ReportFile.objects.select_related("run", "requested_by").get(pk=report_id)
    update = _progress(ReportFile, report_id)
    ReportFile.objects.filter(pk=report_id).update(status=Status.RUNNING, progress=10)
    run = report.run
    closed = run.kind == AnalysisRun.Kind.CLOSED
    try:
        if closed:
            unblinded.open_closed_run(run, user=report.requested_by)
        with translation.override(report.language):
            update(30)
            html = render_to_string(
                "analysis/pdf_report.html",
                {
                    "run": run,
                    "report": run.result,
                    "figures": run.figures_for(report.language),
                    "closed": closed,
                    "generated": timezone.now(),
                },
            )
            update(60)
            pdf = HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
    except Exception as error:  # noqa: BLE001 - shown on the page
        ReportFile.objects.filter(pk=report_id).update(
            status=Status.FAILED, error=_failure(error, closed=closed)
        )
        raise
    cut = run.result.get("data_cut", "")
    filename = f"dsmb-{run.kind}-report-{cut}-{report.language}.pdf"
    ReportFile.objects.filter(pk=report_id).update(
        status=Status.DONE,
        progress=100,
        content=seal_bytes(pdf) if closed else pdf,
        sealed=closed,
        filename=filename,
        expires_at=timezone.now() + timedelta(days=settings.REPORT_RETENTION_DAYS),
    )
    return filename


@shared_task(time_limit=1800, soft_time_limit=1700)
def build_export(export_id: int) -> str:
    """Write the export into a zip kept on its row until it expires."""
    import io
    import tempfile
    import zipfile
    from pathlib import Path

    from . import exports, interchange
    from .models import DataExport

    export = DataExport.objects.select_related("requested_by").get(pk=export_id)
    update = _progress(DataExport, export_id)
    DataExport.objects.filter(pk=export_id).update(status=Status.RUNNING, progress=5)
    try:
        with tempfile.TemporaryDirectory() as folder:
            directory = Path(folder)
            rows = interchange.export_files(
                directory,
                user=export.requested_by,
                unblinded=export.unblinded,
                formats=("csv", export.format) if export.format != "csv" else ("csv",),
            )
            update(50)
            if export.format == "xpt":
                exports.write_xpt(exports.frames(rows), directory)
            elif export.format == "odm":
                exports.write_odm(exports.frames(rows), directory / "trial.odm.xml")
            update(80)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(directory.iterdir()):
                    archive.write(path, path.name)
            content = buffer.getvalue()
    except Exception as error:  # noqa: BLE001 - shown on the page
        DataExport.objects.filter(pk=export_id).update(
            status=Status.FAILED, error=_failure(error, closed=export.unblinded)
        )
        raise
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    kind = "unblinded" if export.unblinded else "blinded"
    filename = f"trial-data-{kind}-{export.format}-{stamp}.zip"
    DataExport.objects.filter(pk=export_id).update(
        status=Status.DONE,
        progress=100,
        content=seal_bytes(content) if export.unblinded else content,
        sealed=export.unblinded,
        filename=filename,
        expires_at=timezone.now() + timedelta(days=settings.REPORT_RETENTION_DAYS),
    )
    return filename


@shared_task(time_limit=300, soft_time_limit=270)
def purge_expired_files() -> int:
    """Empty the content of reports and exports past their download period (daily)."""
    from .models import DataExport

    now = timezone.now()
    purged = DataExport.objects.filter(expires_at__lt=now).exclude(content=b"").update(content=b"")
    purged += ReportFile.objects.filter(expires_at__lt=now).exclude(content=b"").update(content=b"")
    return purged
