"""Views of the participant core: permission, form, one service call, redirect."""

from __future__ import annotations

import csv
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from . import second_factor, selectors, services
from .audit import readable_changes
from .eligibility import EXCLUSION_CRITERIA
from .forms import (
    AuditFilter,
    BaselineForm,
    ConsentForm,
    DeclineForm,
    ProfileForm,
    ScreeningForm,
    ScreeningLogFilter,
    SecondFactorForm,
    apply_errors,
    show_stale,
)
from .labels import CRITERION_LABELS
from .models import Screening
from .roles import ROLE_LABELS, user_roles
from .spreadsheet import safe_row
from .versions import StaleEdit

PAGE_SIZE = 25


@login_not_required
def healthz(request: HttpRequest) -> HttpResponse:
    """For the load balancer and docker compose: the process answers and the database too."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    roles = user_roles(user)
    context = {
        "roles": [ROLE_LABELS.get(role, role) for role in roles],
        "counts": selectors.screening_counts(selectors.screenings_for_user(user=user))
        if user.has_perm("trial.view_screening")
        else None,
    }
    if user.has_perm("trial.view_participant"):
        context["participant_total"] = selectors.participants_for_user(user=user).count()
    return render(request, "trial/home.html", context)


@permission_required("trial.view_participant", raise_exception=True)
def participant_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")
    queryset = selectors.participants_for_user(user=request.user, search=search)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "trial/participant_list.html", {"page": page, "q": search})


@permission_required("trial.view_participant", raise_exception=True)
def participant_detail(request: HttpRequest, study_id: str) -> HttpResponse:
    participant = selectors.participant_for_user(user=request.user, study_id=study_id)
    baseline = getattr(participant, "baseline", None)
    history = Paginator(
        selectors.participant_history(participant=participant, user=request.user), 20
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "trial/participant_detail.html",
        {
            "participant": participant,
            "baseline": baseline if request.user.has_perm("trial.view_baseline") else None,
            "has_baseline": baseline is not None,
            "history": history,
        },
    )


@require_http_methods(["GET", "POST"])
def screening_new(request: HttpRequest) -> HttpResponse:
    may_override = request.user.has_perm("trial.override_duplicate_screening")
    if not (request.user.has_perm("trial.screen_patient") or may_override):
        raise PermissionDenied
    sites = selectors.sites_for_user(user=request.user).filter(active=True)
    if not sites.exists():
        messages.error(request, _("You are not assigned to a site; ask the data manager."))
        return redirect("home")
    form = ScreeningForm(
        request.POST if request.method == "POST" else None,
        site_choices=sites,
        may_override=may_override,
    )
    duplicates = []
    if request.method == "POST" and form.is_valid():
        site = form.cleaned_data.get("site") or sites.first()
        data = services.ScreeningInput(
            screening_date=form.cleaned_data["screening_date"],
            initials=form.cleaned_data["initials"],
            hospital_number=form.cleaned_data["hospital_number"],
            date_of_birth=form.cleaned_data["date_of_birth"],
            sex=form.cleaned_data["sex"],
            confirmed_diagnosis=form.cleaned_data["confirmed_diagnosis"],
            scheduled_procedure_date=form.cleaned_data["scheduled_procedure_date"],
            answers=form.answers(),
            evidence_dates=form.evidence_dates(),
            rescreen_confirmed=form.cleaned_data["confirm_duplicate"],
            duplicate_override_reason=form.cleaned_data.get("duplicate_override_reason", ""),
        )
        try:
            screening = services.screening_record(site=site, data=data, by=request.user)
        except PermissionDenied as refusal:
            form.add_error(None, str(refusal))
        except ValidationError as error:
            apply_errors(form, error)
            duplicates = list(
                selectors.earlier_screenings(
                    user=request.user, hospital_number=form.cleaned_data["hospital_number"]
                )
            )
            if duplicates:
                form.ask_duplicate_confirmation()
        else:
            if screening.eligible:
                messages.success(
                    request,
                    _("%(id)s is eligible. Record consent or refusal.")
                    % {"id": screening.screening_id},
                )
            else:
                messages.warning(
                    request, _("%(id)s is not eligible.") % {"id": screening.screening_id}
                )
            return redirect("screening_detail", pk=screening.pk)
    return render(request, "trial/screening_form.html", {"form": form, "duplicates": duplicates})


@permission_required("trial.view_screening", raise_exception=True)
def screening_detail(request: HttpRequest, pk: int) -> HttpResponse:
    screening = selectors.screening_for_user(user=request.user, pk=pk)
    can_decide = (
        request.user.has_perm("trial.consent_participant")
        and screening.consent_status == Screening.ConsentStatus.PENDING
    )
    return render(
        request,
        "trial/screening_detail.html",
        {
            "screening": screening,
            "failed": [CRITERION_LABELS[key] for key in screening.failed_criteria],
            "criteria": [
                (
                    CRITERION_LABELS[key],
                    getattr(screening, key),
                    getattr(screening, f"{key}_date", None),
                )
                for key in EXCLUSION_CRITERIA
            ],
            "earlier": selectors.earlier_screenings(
                user=request.user, hospital_number=screening.hospital_number, exclude_pk=pk
            ),
            "participant": getattr(screening, "participant", None),
            "consent_form": ConsentForm(versions=selectors.consent_form_versions_in_use())
            if can_decide
            else None,
            "decline_form": DeclineForm() if can_decide else None,
        },
    )


@permission_required("trial.consent_participant", raise_exception=True)
@require_http_methods(["POST"])
def screening_consent(request: HttpRequest, pk: int) -> HttpResponse:
    screening = selectors.screening_for_user(user=request.user, pk=pk)
    form = ConsentForm(request.POST, versions=selectors.consent_form_versions_in_use())
    if form.is_valid():
        try:
            participant = services.participant_consent(
                screening=screening,
                consent_date=form.cleaned_data["consent_date"],
                form_version=form.cleaned_data["form_version"],
                signed_form_filed=form.cleaned_data["signed_form_filed"],
                language=form.cleaned_data["language"],
                by=request.user,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request,
                _("Consent recorded. The participant's study id is %(id)s.")
                % {"id": participant.study_id},
            )
            return redirect("participant_detail", study_id=participant.study_id)
    return render(
        request,
        "trial/screening_decide.html",
        {"screening": screening, "form": form, "title": _("Record consent")},
        status=400,
    )


@permission_required("trial.consent_participant", raise_exception=True)
@require_http_methods(["POST"])
def screening_decline(request: HttpRequest, pk: int) -> HttpResponse:
    screening = selectors.screening_for_user(user=request.user, pk=pk)
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            services.screening_decline(
                screening=screening,
                declined_on=form.cleaned_data["declined_on"],
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.info(request, _("The refusal is recorded."))
            return redirect("screening_detail", pk=screening.pk)
    return render(
        request,
        "trial/screening_decide.html",
        {"screening": screening, "form": form, "title": _("Record refusal")},
        status=400,
    )


@permission_required("trial.view_screening", raise_exception=True)
def screening_log(request: HttpRequest) -> HttpResponse:
    filters = ScreeningLogFilter(request.GET or None)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    queryset = selectors.screenings_for_user(
        user=request.user,
        date_from=criteria.get("date_from"),
        date_to=criteria.get("date_to"),
        outcome=criteria.get("outcome") or "",
    )
    counts = selectors.screening_counts(queryset)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "trial/screening_log.html",
        {
            "filters": filters,
            "page": page,
            "counts": counts,
            "criterion_counts": [
                (key, CRITERION_LABELS[key], counts[key])
                for key in ("incl_female", "incl_diagnosis", *EXCLUSION_CRITERIA)
            ],
            "labels": CRITERION_LABELS,
            "query": query.urlencode(),
        },
    )


@permission_required("trial.edit_baseline", raise_exception=True)
@require_http_methods(["GET", "POST"])
def baseline_edit(request: HttpRequest, study_id: str) -> HttpResponse:
    participant = selectors.participant_for_user(user=request.user, study_id=study_id)
    existing = getattr(participant, "baseline", None)
    correcting = existing is not None
    if request.method == "POST":
        form = BaselineForm(request.POST, correcting=correcting)
    else:
        initial = (
            BaselineForm.initial_from(existing, version=services.baseline_version(existing))
            if existing
            else {}
        )
        form = BaselineForm(initial=initial, correcting=correcting)
    if request.method == "POST" and form.is_valid():
        try:
            services.baseline_save(
                participant=participant,
                data=form.baseline_data(),
                by=request.user,
                reason=form.cleaned_data.get("reason", ""),
                version=form.cleaned_data["version"] if correcting else None,
            )
        except StaleEdit as stale:
            existing.refresh_from_db()
            show_stale(form, stale, token=services.baseline_version(existing))
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request,
                _("Baseline corrected.") if correcting else _("Baseline form saved."),
            )
            return redirect("participant_detail", study_id=participant.study_id)
    return render(
        request,
        "trial/baseline_form.html",
        {"participant": participant, "form": form, "correcting": correcting},
    )


def _audit_queryset(request: HttpRequest):
    filters = AuditFilter(request.GET or None, models=selectors.audit_models())
    criteria = filters.cleaned_data if filters.is_valid() else {}
    queryset = selectors.audit_events(
        user=request.user,
        subject=criteria.get("subject") or "",
        username=criteria.get("username") or "",
        model=criteria.get("model") or "",
        date_from=criteria.get("date_from"),
        date_to=criteria.get("date_to"),
    )
    return filters, queryset


@permission_required("trial.view_audit_trail", raise_exception=True)
@require_GET
def audit_trail(request: HttpRequest) -> HttpResponse:
    filters, queryset = _audit_queryset(request)
    page = Paginator(queryset, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "trial/audit_trail.html",
        {"filters": filters, "page": page, "query": query.urlencode()},
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@permission_required("trial.view_audit_trail", raise_exception=True)
@require_GET
def audit_trail_csv(request: HttpRequest) -> StreamingHttpResponse:
    _filters, queryset = _audit_queryset(request)
    writer = csv.writer(_Echo())
    header = ["when", "user", "action", "record_type", "record_id", "subject", "reason", "changes"]

    def rows():
        yield writer.writerow(header)
        for event in queryset.iterator(chunk_size=2000):
            # Free text from anyone (reasons, usernames) must not run as a spreadsheet formula.
            yield writer.writerow(
                safe_row(
                    [
                        event.at.isoformat(),
                        event.username,
                        event.action,
                        event.model,
                        event.object_id,
                        event.subject,
                        event.reason,
                        json.dumps(
                            readable_changes(event.changes), ensure_ascii=False, sort_keys=True
                        ),
                    ]
                )
            )

    services.audit_export_record(by=request.user, query=request.GET.urlencode())
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
    return response


def rate_limited(request: HttpRequest, exception) -> HttpResponse:
    """Too many attempts in a short time (django-ratelimit): try again shortly."""
    return render(request, "429.html", status=429)


@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """Enrol a TOTP authenticator (QR code) or confirm a code from it."""
    import qrcode
    import qrcode.image.svg
    from django_otp import login as otp_login

    next_url = request.GET.get("next") or request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    form = SecondFactorForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            factor = second_factor.second_factor_verify(
                user=request.user, token=form.cleaned_data["token"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            otp_login(request, factor.device)
            return redirect(next_url)
    factor = second_factor.second_factor_enrolment(user=request.user)
    qr_svg = ""
    if factor.enrolling:
        image = qrcode.make(factor.device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
        qr_svg = image.to_string(encoding="unicode")
    return render(
        request,
        "registration/two_factor.html",
        {
            "enrolling": factor.enrolling,
            "qr_svg": qr_svg,
            "secret": factor.device.bin_key.hex() if factor.enrolling else "",
            "error": " ".join(form.errors.get("token", [])),
            "next": next_url,
        },
    )


@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """The person's own settings: interface language; links to password and 2FA."""
    current = getattr(getattr(request.user, "profile", None), "language", "")
    form = ProfileForm(
        request.POST if request.method == "POST" else None, initial={"language": current}
    )
    if request.method == "POST" and form.is_valid():
        services.user_language_set(user=request.user, language=form.cleaned_data["language"])
        response = redirect("profile")
        # The language takes effect on the next page, in this session and later ones.
        from django.conf import settings as django_settings

        response.set_cookie(
            django_settings.LANGUAGE_COOKIE_NAME,
            form.cleaned_data["language"] or "",
            samesite="Lax",
        )
        return response
    return render(request, "trial/profile.html", {"form": form})
