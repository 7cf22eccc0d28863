"""Views of analysis: the unblinded DSMB dashboard, the open report, PDF reports, exports.

Only the DSMB and the unblinded statistician (``analysis.view_dashboard``) see
anything by arm; opening the dashboard and every download are audited (by the
services). Reads come from ``analysis.selectors``, which check who may read a run,
report or export; nothing here opens a sealed result itself.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from questionnaires.visits import visit_choices

from . import selectors, services
from .labels import OUTCOME_TITLES
from .models import AnalysisRun, DataExport


def _population(request) -> str:
    value = request.GET.get("population", "completers")
    return value if value in services.POPULATIONS else "completers"


def _page(request, kind: str, template: str):
    population = _population(request)
    run = selectors.latest_run(kind=kind, population=population, user=request.user)
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
            "pending": selectors.pending_run(kind=kind, population=population),
            "report": result,
            "figures": figures,
            "population": population,
            "outcomes": outcomes,
            "visit_labels": dict(visit_choices()),
            "reports": selectors.recent_reports(run=run),
        },
    )


@permission_required("analysis.view_dashboard", raise_exception=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    services.dashboard_open(by=request.user)
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
    return redirect(f"{reverse(_page_of(kind))}?population={run.population}")


def _page_of(kind: str) -> str:
    return "dsmb_dashboard" if kind == AnalysisRun.Kind.CLOSED else "open_report"


def run_status(request: HttpRequest, pk: int) -> JsonResponse:
    run = selectors.run_for_user(user=request.user, pk=pk)
    return JsonResponse({"status": run.status, "progress": run.progress, "step": run.step})


@require_POST
def report_request(request: HttpRequest, pk: int) -> HttpResponse:
    run = selectors.run_for_user(user=request.user, pk=pk, done=True)
    language = request.POST.get("language", "en")
    services.report_request(
        run=run, language=language if language in {"en", "zh-hans"} else "en", by=request.user
    )
    messages.info(request, _("The PDF report is being generated."))
    return redirect(f"{reverse(_page_of(run.kind))}?population={run.population}")


def report_status(request: HttpRequest, pk: int) -> JsonResponse:
    report = selectors.report_for_user(user=request.user, pk=pk)
    return JsonResponse({"status": report.status, "progress": report.progress})


def _attachment(content: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def report_download(request: HttpRequest, pk: int) -> HttpResponse:
    report = selectors.report_for_user(user=request.user, pk=pk, downloadable=True)
    content = services.report_download(report=report, by=request.user)
    return _attachment(content, filename=report.filename, content_type="application/pdf")


@permission_required("analysis.export_data", raise_exception=True)
def exports_page(request: HttpRequest) -> HttpResponse:
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
            "exports": selectors.exports_for_user(user=request.user),
            "formats": DataExport.Format.choices,
            "may_unblind": request.user.has_perm("randomization.view_arm"),
            "now": timezone.now(),
        },
    )


def export_status(request: HttpRequest, pk: int) -> JsonResponse:
    export = selectors.export_for_user(user=request.user, pk=pk)
    return JsonResponse({"status": export.status, "progress": export.progress})


@permission_required("analysis.export_data", raise_exception=True)
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    export = selectors.export_for_user(user=request.user, pk=pk, downloadable=True)
    # Re-checked now: asking for it once is no licence to fetch it after losing the right.
    content = services.export_download(export=export, by=request.user)
    return _attachment(content, filename=export.filename, content_type="application/zip")
