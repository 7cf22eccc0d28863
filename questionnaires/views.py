"""Views of questionnaire capture: enter, view and correct a response; alerts; codebook."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from trial import selectors as trial_selectors
from trial.forms import apply_errors, show_stale
from trial.versions import StaleEdit

from . import selectors, services
from .definitions import instruments, score_label, score_value_label
from .forms import AcknowledgeAlertForm, ResponseForm
from .models import Mode
from .visits import baseline_code, visit_codes, visit_label


def _instrument_or_404(key: str):
    try:
        return instruments()[key]
    except KeyError as error:
        raise Http404 from error


def _safe_next(request: HttpRequest) -> str:
    """Where to go after saving (the assessor's call page), if it is on this site."""
    target = request.GET.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def _administration(form) -> services.Administration:
    return services.Administration(
        administered_on=form.cleaned_data["administered_on"],
        mode=form.cleaned_data["mode"],
        language=form.language,
        queries_confirmed=form.ticked_queries(),
        items_not_answered=form.cleaned_data["items_not_answered"],
    )


@permission_required("questionnaires.view_response", raise_exception=True)
def response_detail(request: HttpRequest, study_id: str, visit: str, instrument: str):
    participant = trial_selectors.participant_for_user(user=request.user, study_id=study_id)
    definition = _instrument_or_404(instrument)
    response = selectors.response_for(participant=participant, visit=visit, instrument=instrument)
    if response is None:
        if request.user.has_perm("questionnaires.enter_response"):
            return redirect("response_enter", study_id=study_id, visit=visit, instrument=instrument)
        raise Http404
    rows = [(item, response.answers.get(item.key)) for item in definition.items]
    return render(
        request,
        "questionnaires/response_detail.html",
        {
            "participant": participant,
            "response": response,
            "instrument": definition,
            "rows": rows,
            "scores": [
                (key, score_label(key), score_value_label(key, response.scores.get(key)))
                for key in definition.score_keys
            ],
        },
    )


@permission_required("questionnaires.enter_response", raise_exception=True)
@require_http_methods(["GET", "POST"])
def response_enter(request: HttpRequest, study_id: str, visit: str, instrument: str):
    participant = trial_selectors.participant_for_user(user=request.user, study_id=study_id)
    definition = _instrument_or_404(instrument)
    if visit not in visit_codes():
        raise Http404
    existing = selectors.response_for(participant=participant, visit=visit, instrument=instrument)
    correcting = existing is not None
    default_mode = Mode.IN_PERSON if visit == baseline_code() else Mode.TELEPHONE
    kwargs = {
        "instrument": definition,
        "correcting": correcting,
        "default_mode": default_mode,
        # Administered in the participant's language (stored with the response).
        "language": existing.language if existing else participant.language,
    }
    if request.method == "POST":
        form = ResponseForm(request.POST, **kwargs)
    else:
        initial = (
            ResponseForm.initial_from(
                definition, existing, version=services.response_version(existing)
            )
            if existing
            else None
        )
        form = ResponseForm(initial=initial, **kwargs)
    if request.method == "POST" and form.is_valid():
        try:
            if correcting:
                services.response_correct(
                    response=existing,
                    answers=form.answers(),
                    administration=_administration(form),
                    reason=form.cleaned_data["reason"],
                    version=form.cleaned_data["version"],
                    by=request.user,
                )
            else:
                services.response_record(
                    participant=participant,
                    visit=visit,
                    instrument=instrument,
                    answers=form.answers(),
                    administration=_administration(form),
                    by=request.user,
                )
        except StaleEdit as stale:
            existing.refresh_from_db()
            show_stale(form, stale, token=services.response_version(existing))
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, _("Saved and scored."))
            target = _safe_next(request)
            if target:
                return redirect(target)
            return redirect(
                "response_detail", study_id=study_id, visit=visit, instrument=instrument
            )
    return render(
        request,
        "questionnaires/response_form.html",
        {
            "participant": participant,
            "instrument": definition,
            "visit": {"code": visit, "label": visit_label(visit)},
            "form": form,
            "correcting": correcting,
            "next": _safe_next(request),
        },
    )


@permission_required("questionnaires.view_safetyalert", raise_exception=True)
def alert_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "questionnaires/alert_list.html",
        {
            "alerts": selectors.alerts_for_user(user=request.user),
            "form": AcknowledgeAlertForm()
            if request.user.has_perm("questionnaires.acknowledge_alert")
            else None,
        },
    )


@permission_required("questionnaires.acknowledge_alert", raise_exception=True)
@require_POST
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(selectors.alerts_for_user(user=request.user), pk=pk)
    form = AcknowledgeAlertForm(request.POST)
    if form.is_valid():
        try:
            services.alert_acknowledge(alert=alert, note=form.cleaned_data["note"], by=request.user)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Alert acknowledged."))
            return redirect("alert_list")
    return render(
        request,
        "questionnaires/alert_list.html",
        {"alerts": selectors.alerts_for_user(user=request.user), "form": form, "failed": alert.pk},
        status=400,
    )


@permission_required("questionnaires.view_codebook", raise_exception=True)
def codebook(request: HttpRequest) -> HttpResponse:
    if request.GET.get("format") == "csv":
        content = services.codebook_download(by=request.user)
        response = HttpResponse(content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="codebook.csv"'
        return response
    from .codebook import codebook_rows

    # The page in the reader's language; the CSV stays English, like the exports it labels.
    return render(
        request,
        "questionnaires/codebook.html",
        {"rows": codebook_rows(translation.get_language())},
    )
