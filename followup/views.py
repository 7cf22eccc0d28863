"""Views of follow-up: worklists, the assessor's call page, visits, adverse events, status.

The assessor's views (call list and call page) build their pages from
``followup.selectors`` only and render templates that show no adverse event,
adherence, code-break or randomization detail.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from questionnaires.definitions import instruments
from questionnaires.selectors import responses_of
from trial import selectors as trial_selectors
from trial.forms import (
    apply_errors,
    form_errors_as_messages,
    service_errors_as_messages,
    show_stale,
)
from trial.versions import StaleEdit

from . import selectors, services
from .forms import (
    AdherenceForm,
    AdverseEventForm,
    CompleteVisitForm,
    ContactAttemptForm,
    ContactDetailsForm,
    InterviewForm,
    MissedVisitForm,
    ReviewForm,
    StatusChangeForm,
    WorklistFilter,
)

PAGE_SIZE = 25


def _list_page(request, lister, template: str, title: str):
    filters = WorklistFilter(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    which = chosen.get("which") or "in_window"
    sort = chosen.get("sort") or "window"
    queryset = lister(user=request.user, which=which, sort=sort)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    names = {key: str(inst.name) for key, inst in instruments().items()}
    rows = [(visit, [names.get(key, key) for key in visit.instruments]) for visit in page]
    return render(
        request,
        template,
        {
            "filters": filters,
            "page": page,
            "rows": rows,
            "query": query.urlencode(),
            "title": title,
            "which": which,
        },
    )


@permission_required("followup.view_worklist", raise_exception=True)
def worklist(request: HttpRequest) -> HttpResponse:
    return _list_page(
        request, selectors.worklist, "followup/worklist.html", _("Follow-up worklist")
    )


@permission_required("followup.view_call_list", raise_exception=True)
def call_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request, selectors.call_list, "followup/call_list.html", _("Calls to make"))


def _script(visit, participant):
    """The call's script order: each instrument due, with whether it is entered."""
    done = responses_of(participant=participant)
    defined = instruments()
    return [
        (key, defined[key].name, (visit.code, key) in done)
        for key in visit.instruments
        if key in defined
    ]


# --- the assessor's call page: the page (GET) and its two forms, each posting to its own view


ATTEMPT_PREFIX = "attempt"
INTERVIEW_PREFIX = "call"


def _call_visit(request: HttpRequest, pk: int):
    visit = selectors.visit_for_user(user=request.user, pk=pk)
    if selectors.assessor_excluded(participant=visit.participant, user=request.user):
        raise PermissionDenied(str(services.ASSESSOR_EXCLUDED))
    return visit


def _call_page(request: HttpRequest, visit, *, attempt_form=None, interview_form=None):
    """The call page, with a form that failed (bound, with its errors) or fresh ones."""
    participant = visit.participant
    return render(
        request,
        "followup/call_page.html",
        {
            "visit": visit,
            "participant": participant,
            "contact": selectors.contact_details_of(participant=participant),
            "script": _script(visit, participant),
            "attempts": selectors.contact_attempts_of(visit=visit),
            "interview": selectors.interview_of(visit=visit),
            "attempt_form": ContactAttemptForm(prefix=ATTEMPT_PREFIX)
            if attempt_form is None
            else attempt_form,
            "interview_form": InterviewForm(prefix=INTERVIEW_PREFIX)
            if interview_form is None
            else interview_form,
            "here": reverse("call_page", args=[visit.pk]),
        },
    )


@permission_required("followup.conduct_interview", raise_exception=True)
@require_GET
def call_page(request: HttpRequest, pk: int) -> HttpResponse:
    return _call_page(request, _call_visit(request, pk))


# Each of the call page's forms: its prefix (the page's field ids) and its name on the page.
_CALL_FORMS = {
    ContactAttemptForm: (ATTEMPT_PREFIX, "attempt_form"),
    InterviewForm: (INTERVIEW_PREFIX, "interview_form"),
}


def _post_call_form(request, pk: int, form_class, record):
    """One of the call page's forms, posted to its own view: ``record(visit, data)``
    stores it and says where to go next (post/redirect/get); refused by the form or
    the service, the page is shown again with this form and its errors."""
    visit = _call_visit(request, pk)
    prefix, page_form = _CALL_FORMS[form_class]
    form = form_class(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            return record(visit, form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
    return _call_page(request, visit, **{page_form: form})


@permission_required("followup.conduct_interview", raise_exception=True)
@require_POST
def call_attempt(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a contact attempt from the call page; back to the page to call again."""

    def record(visit, data):
        result = services.contact_attempt_record(visit=visit, **data, by=request.user)
        messages.info(request, _("Attempt logged."))
        if result.suggest_missed:
            messages.warning(
                request,
                _(
                    "Three attempts have failed in this window: the visit may be missed. "
                    "Tell the research nurse."
                ),
            )
        return redirect("call_page", pk=visit.pk)

    return _post_call_form(request, pk, ContactAttemptForm, record)


@permission_required("followup.conduct_interview", raise_exception=True)
@require_POST
def call_interview(request: HttpRequest, pk: int) -> HttpResponse:
    """Finish the call (times, disruption, the blinding statement); on to the next call."""

    def record(visit, data):
        services.interview_record(visit=visit, **data, by=request.user)
        messages.success(request, _("Call recorded."))
        return redirect("call_list")

    return _post_call_form(request, pk, InterviewForm, record)


# --- the nurse's visit page -----------------------------------------------------------------


@permission_required("followup.record_visit", raise_exception=True)
def visit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    visit = selectors.visit_for_user(user=request.user, pk=pk)
    participant = visit.participant
    return render(
        request,
        "followup/visit_detail.html",
        {
            "visit": visit,
            "participant": participant,
            "script": _script(visit, participant),
            "attempts": selectors.contact_attempts_of(visit=visit),
            "interview": selectors.interview_of(visit=visit),
            "complete_form": CompleteVisitForm(),
            "missed_form": MissedVisitForm(),
            "attempt_form": ContactAttemptForm(prefix=ATTEMPT_PREFIX),
            "adherence_form": AdherenceForm() if "adherence" in visit.extra_forms else None,
            "adherence": selectors.adherence_of(participant=participant)
            if request.user.has_perm("followup.view_adherence")
            else None,
            "here": reverse("visit_detail", args=[pk]),
        },
    )


def _visit_action(request, pk, form_class, service, success, *, of="visit", **form_kwargs):
    """One of the visit page's forms: ``service`` called with the form's fields (named as
    its keywords) and the visit, or its participant (``of``); back to the page."""
    visit = selectors.visit_for_user(user=request.user, pk=pk)
    form = form_class(request.POST, **form_kwargs)
    if form.is_valid():
        subject = {"participant": visit.participant} if of == "participant" else {"visit": visit}
        try:
            service(**subject, **form.cleaned_data, by=request.user)
        except ValidationError as error:
            service_errors_as_messages(request, error)
        else:
            messages.success(request, success)
    else:
        form_errors_as_messages(request, form)
    return redirect("visit_detail", pk=pk)


@permission_required("followup.record_visit", raise_exception=True)
@require_POST
def visit_complete(request: HttpRequest, pk: int) -> HttpResponse:
    return _visit_action(
        request, pk, CompleteVisitForm, services.visit_complete, _("Visit marked done.")
    )


@permission_required("followup.record_visit", raise_exception=True)
@require_POST
def visit_missed(request: HttpRequest, pk: int) -> HttpResponse:
    return _visit_action(
        request, pk, MissedVisitForm, services.visit_mark_missed, _("Visit marked missed.")
    )


@permission_required("followup.record_visit", raise_exception=True)
@require_POST
def visit_attempt(request: HttpRequest, pk: int) -> HttpResponse:
    return _visit_action(
        request,
        pk,
        ContactAttemptForm,
        services.contact_attempt_record,
        _("Attempt logged."),
        prefix=ATTEMPT_PREFIX,
    )


@permission_required("followup.record_visit", raise_exception=True)
@require_POST
def visit_adherence(request: HttpRequest, pk: int) -> HttpResponse:
    return _visit_action(
        request,
        pk,
        AdherenceForm,
        services.adherence_record,
        _("Adherence recorded."),
        of="participant",
    )


@permission_required("followup.record_visit", raise_exception=True)
@require_http_methods(["GET", "POST"])
def contact_details(request: HttpRequest, study_id: str) -> HttpResponse:
    participant = trial_selectors.participant_for_user(user=request.user, study_id=study_id)
    existing = selectors.contact_details_of(participant=participant)
    correcting = existing is not None
    fields = ContactDetailsForm.FIELDS
    if request.method == "POST":
        form = ContactDetailsForm(request.POST, correcting=correcting)
    else:
        initial = (
            {
                **{name: getattr(existing, name) for name in fields},
                "version": services.contact_details_version(existing, fields),
            }
            if existing
            else None
        )
        form = ContactDetailsForm(initial=initial, correcting=correcting)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_details_save(
                participant=participant,
                data=form.details_data(),
                by=request.user,
                reason=form.cleaned_data.get("reason", ""),
                version=form.cleaned_data["version"] if correcting else None,
            )
        except StaleEdit as stale:
            existing.refresh_from_db()
            show_stale(form, stale, token=services.contact_details_version(existing, fields))
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Contact details saved."))
            return redirect("participant_detail", study_id=study_id)
    return render(
        request,
        "followup/simple_form.html",
        {"participant": participant, "form": form, "title": _("Contact details")},
    )


@permission_required("followup.record_adverse_event", raise_exception=True)
@require_http_methods(["GET", "POST"])
def adverse_event_edit(request: HttpRequest, study_id: str, pk: int | None = None):
    participant = trial_selectors.participant_for_user(user=request.user, study_id=study_id)
    event = selectors.adverse_event_of(participant=participant, pk=pk) if pk else None
    correcting = event is not None
    if request.method == "POST":
        form = AdverseEventForm(request.POST, correcting=correcting)
    else:
        initial = None
        if event:
            initial = {k: getattr(event, k) for k in services.AE_FIELDS}
            initial["serious"] = "yes" if event.serious else "no"
            initial["version"] = services.adverse_event_version(event)
        form = AdverseEventForm(initial=initial, correcting=correcting)
    if request.method == "POST" and form.is_valid():
        try:
            if correcting:
                services.adverse_event_update(
                    event=event,
                    data=form.event_data(),
                    reason=form.cleaned_data["reason"],
                    version=form.cleaned_data["version"],
                    by=request.user,
                )
            else:
                services.adverse_event_record(
                    participant=participant, data=form.event_data(), by=request.user
                )
        except StaleEdit as stale:
            event.refresh_from_db()
            show_stale(form, stale, token=services.adverse_event_version(event))
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Adverse event saved."))
            return redirect("participant_detail", study_id=study_id)
    return render(
        request,
        "followup/simple_form.html",
        {"participant": participant, "form": form, "title": _("Adverse event")},
    )


@permission_required("followup.review_adverse_event", raise_exception=True)
def sae_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "followup/sae_list.html",
        {"events": selectors.serious_events_for(user=request.user), "form": ReviewForm()},
    )


@permission_required("followup.review_adverse_event", raise_exception=True)
@require_POST
def sae_review(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(selectors.serious_events_for(user=request.user), pk=pk)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            services.adverse_event_review(
                event=event, note=form.cleaned_data["note"], by=request.user
            )
        except ValidationError as error:
            service_errors_as_messages(request, error)
        else:
            messages.success(request, _("Review recorded."))
    else:
        messages.error(request, _("Write the review."))
    return redirect("sae_list")


@require_http_methods(["GET", "POST"])
def status_change(request: HttpRequest, study_id: str) -> HttpResponse:
    if not (
        request.user.has_perm("followup.change_study_status")
        or request.user.has_perm("followup.decide_exclusion")
    ):
        raise PermissionDenied
    participant = trial_selectors.participant_for_user(user=request.user, study_id=study_id)
    form = StatusChangeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.status_change(participant=participant, **form.cleaned_data, by=request.user)
        except PermissionDenied as error:
            form.add_error("kind", str(error) or _("Your role may not record this change."))
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Status change recorded."))
            return redirect("participant_detail", study_id=study_id)
    return render(
        request,
        "followup/simple_form.html",
        {"participant": participant, "form": form, "title": _("Change study status")},
    )
