"""Views of analysis: the unblinded DSMB dashboard, the open report, PDF reports.

Only the DSMB and the unblinded statistician (``analysis.view_dashboard``) see
anything by arm; opening the dashboard is audited.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from questionnaires.models import VisitCode
from randomization import unblinded
from trial.audit import audit_event

from . import services
from .labels import OUTCOME_TITLES
from .models import AnalysisRun, ReportFile, Status


def _population(request) -> str:
    value = request.GET.get("population", "completers")
    return value if value in services.POPULATIONS else "completers"


def _page(request, kind: str, template: str):
    population = _population(request)
    run = services.latest_run(kind=kind, population=population)
    if run is not None and kind == AnalysisRun.Kind.CLOSED:
        unblinded.open_closed_run(run, user=request.user)
    pending = (
        AnalysisRun.objects.filter(
            kind=kind, population=population, status__in=[Status.QUEUED, Status.RUNNING]
        )
        .order_by("-requested_at")
        .first()
    )
    reports = ReportFile.objects.filter(run=run).order_by("-requested_at")[:5] if run else []
    result = run.result if run else {}
    figures = run.figures_for(translation.get_language()) if run else {}
    outcomes = [
        (
            key,
            OUTCOME_TITLES.get(key, key),
            result.get("outcomes", {}).get(key),
            figures.get(key),
        )
        for key in OUTCOME_TITLES  # stats.OUTCOMES in order (tested), without importing scipy
    ]
    return render(
        request,
        template,
        {
            "run": run,
            "pending": pending,
            "report": result,
            "figures": figures,
            "population": population,
            "outcomes": outcomes,
            "visit_labels": dict(VisitCode.choices),
            "reports": reports,
        },
    )


@permission_required("analysis.view_dashboard", raise_exception=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    audit_event(user=request.user, model="analysis.Dashboard", summary="DSMB dashboard opened")
    return _page(request, AnalysisRun.Kind.CLOSED, "analysis/dashboard.html")


@permission_required("analysis.view_open_report", raise_exception=True)
def open_report(request: HttpRequest) -> HttpResponse:
    return _page(request, AnalysisRun.Kind.OPEN, "analysis/open_report.html")


@require_POST
def analysis_refresh(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in AnalysisRun.Kind.values:
        raise Http404
    run = services.analysis_request(kind=kind, population=_population(request), by=request.user)
    messages.info(request, _("The analysis is being computed."))
    target = "dsmb_dashboard" if kind == AnalysisRun.Kind.CLOSED else "open_report"
    return redirect(f"{_url(target)}?population={run.population}")


def _url(name: str) -> str:
    from django.urls import reverse

    return reverse(name)


def _check_kind(user, kind: str) -> None:
    permission = "analysis.view_dashboard" if kind == "closed" else "analysis.view_open_report"
    if not user.has_perm(permission):
        raise PermissionDenied


def run_status(request: HttpRequest, pk: int) -> JsonResponse:
    run = get_object_or_404(AnalysisRun, pk=pk)
    _check_kind(request.user, run.kind)
    return JsonResponse({"status": run.status, "progress": run.progress, "step": run.step})


@require_POST
def report_request(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(AnalysisRun, pk=pk, status=Status.DONE)
    _check_kind(request.user, run.kind)
    language = request.POST.get("language", "en")
    services.report_request(
        run=run, language=language if language in {"en", "zh-hans"} else "en", by=request.user
    )
    messages.info(request, _("The PDF report is being generated."))
    target = "dsmb_dashboard" if run.kind == AnalysisRun.Kind.CLOSED else "open_report"
    return redirect(f"{_url(target)}?population={run.population}")


def report_status(request: HttpRequest, pk: int) -> JsonResponse:
    report = get_object_or_404(ReportFile.objects.select_related("run"), pk=pk)
    _check_kind(request.user, report.run.kind)
    return JsonResponse({"status": report.status, "progress": report.progress})


def report_download(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(ReportFile.objects.select_related("run"), pk=pk, status=Status.DONE)
    _check_kind(request.user, report.run.kind)
    if report.expires_at and report.expires_at < timezone.now() or not report.content:
        raise Http404
    if report.run.kind == AnalysisRun.Kind.CLOSED:
        content = unblinded.open_closed_report(report, user=request.user)
    else:
        content = bytes(report.content)
    audit_event(
        user=request.user,
        model="analysis.ReportFile",
        object_id=report.pk,
        summary=f"Report downloaded: {report.filename}",
    )
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.filename}"'
    response["Cache-Control"] = "no-store"
    return response


@permission_required("analysis.export_data", raise_exception=True)
def exports_page(request: HttpRequest) -> HttpResponse:
    from .models import DataExport

    if request.method == "POST":
        format_ = request.POST.get("format", "csv")
        if format_ not in DataExport.Format.values:
            format_ = "csv"
        # Only those who may see arms are offered the choice; for anyone else the
        # export is blinded whatever the request says.
        unblinded = request.POST.get("unblinded") == "on" and request.user.has_perm(
            "randomization.view_arm"
        )
        services.export_request(format=format_, unblinded=unblinded, by=request.user)
        messages.info(request, _("The export is being prepared."))
        return redirect("exports")
    return render(
        request,
        "analysis/exports.html",
        {
            "exports": DataExport.objects.filter(requested_by=request.user).defer("content")[:20],
            "formats": DataExport.Format.choices,
            "may_unblind": request.user.has_perm("randomization.view_arm"),
            "now": timezone.now(),
        },
    )


def export_status(request: HttpRequest, pk: int) -> JsonResponse:
    from .models import DataExport

    export = get_object_or_404(
        DataExport.objects.defer("content"), pk=pk, requested_by=request.user
    )
    return JsonResponse({"status": export.status, "progress": export.progress})


@permission_required("analysis.export_data", raise_exception=True)
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    from .models import DataExport

    export = get_object_or_404(DataExport, pk=pk, requested_by=request.user, status=Status.DONE)
    if (export.expires_at and export.expires_at < timezone.now()) or not export.content:
        raise Http404
    # Re-checked now: asking for it once is no licence to fetch it after losing the right.
    if export.unblinded:
        content = unblinded.open_unblinded_export(export, user=request.user)
    else:
        content = bytes(export.content)
    audit_event(
        user=request.user,
        model="analysis.DataExport",
        object_id=export.pk,
        summary=f"Export downloaded: {export.filename}",
    )
    response = HttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    return response
