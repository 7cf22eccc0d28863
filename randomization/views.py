"""Views of randomization: the nurse's Randomize, the statistician's lists, code-breaks.

Blinded views (randomize, dispense, fingerprints) never call ``unblinded``;
the statistician's and the code-break views do, and each read is logged there.
"""

from __future__ import annotations

import csv
import io

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from trial import selectors as trial_selectors
from trial.forms import apply_errors, form_errors_as_messages, service_errors_as_messages
from trial.spreadsheet import safe_row

from . import lists, selectors, services, unblinded
from .forms import CodeBreakForm, DispenseForm, ListCreateForm, ListExtendForm, RandomizeForm

# --- the nurse ------------------------------------------------------------------------------


@permission_required("randomization.randomize_participant", raise_exception=True)
@require_http_methods(["GET", "POST"])
@ratelimit(
    key="user", rate=lambda group, request: settings.RANDOMIZE_RATE, method="POST", block=True
)
def randomize(request: HttpRequest, study_id: str) -> HttpResponse:
    participant = trial_selectors.participant_for_user(user=request.user, study_id=study_id)
    blockers = services.randomization_blockers(participant)
    form = RandomizeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid() and not blockers:
        try:
            allocation = services.allocation_assign(
                participant=participant,
                by=request.user,
                eligibility_reconfirmed=form.cleaned_data["eligibility_reconfirmed"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request,
                _("%(study_id)s is randomized. Dispense pack %(pack)s.")
                % {"study_id": participant.study_id, "pack": allocation.pack_code},
            )
            return redirect("participant_detail", study_id=participant.study_id)
    return render(
        request,
        "randomization/randomize.html",
        {"participant": participant, "form": form, "blockers": blockers},
    )


@permission_required("randomization.randomize_participant", raise_exception=True)
@require_http_methods(["GET", "POST"])
def dispense(request: HttpRequest, study_id: str) -> HttpResponse:
    participant = trial_selectors.participant_for_user(user=request.user, study_id=study_id)
    allocation = selectors.allocation_of(participant=participant)
    if allocation is None:
        messages.error(request, str(services.NOT_RANDOMIZED))
        return redirect("participant_detail", study_id=participant.study_id)
    form = DispenseForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.allocation_dispense(
                allocation=allocation,
                dispensed_on=form.cleaned_data["dispensed_on"],
                by=request.user,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request, _("Dispensing of pack %(pack)s recorded.") % {"pack": allocation.pack_code}
            )
            return redirect("participant_detail", study_id=participant.study_id)
    return render(
        request,
        "randomization/dispense.html",
        {"participant": participant, "allocation": allocation, "form": form},
    )


# --- everyone -------------------------------------------------------------------------------


def fingerprints(request: HttpRequest) -> HttpResponse:
    """The hash and creation time of every list, for all staff (nothing else about it)."""
    return render(request, "randomization/fingerprints.html", {"lists": selectors.fingerprints()})


# --- the investigator -------------------------------------------------------------------------


@permission_required("randomization.break_code", raise_exception=True)
@require_http_methods(["GET", "POST"])
def code_break(request: HttpRequest, study_id: str) -> HttpResponse:
    participant = trial_selectors.participant_for_user(user=request.user, study_id=study_id)
    if settings.TWO_FACTOR_ENFORCED and not request.user.is_verified():
        # A code-break needs the second factor, whatever the role.
        return redirect(f"{reverse('two_factor')}?next={request.get_full_path()}")
    form = CodeBreakForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            broken = services.code_break_request(
                participant=participant,
                reason=form.cleaned_data["reason"],
                password=form.cleaned_data["password"],
                by=request.user,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            return redirect("code_break_result", pk=broken.pk)
    return render(
        request, "randomization/code_break.html", {"participant": participant, "form": form}
    )


@permission_required("randomization.break_code", raise_exception=True)
def code_break_result(request: HttpRequest, pk: int) -> HttpResponse:
    broken = selectors.code_break_by(user=request.user, pk=pk)
    arm = unblinded.code_break_arm(code_break=broken, user=request.user)
    response = render(
        request, "randomization/code_break_result.html", {"code_break": broken, "arm": arm}
    )
    response["Cache-Control"] = "no-store"
    return response


# --- the unblinded statistician -------------------------------------------------------------


@permission_required("randomization.manage_lists", raise_exception=True)
def list_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "randomization/list_index.html",
        {"lists": selectors.lists_for_manager(), "code_breaks": selectors.code_breaks()},
    )


@permission_required("randomization.manage_lists", raise_exception=True)
@require_http_methods(["GET", "POST"])
def list_new(request: HttpRequest) -> HttpResponse:
    form = ListCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        spec = services.ListSpec(
            name=data["name"],
            template=data["template"],
            arms=data["arms"],
            ratio=data["ratio"],
            block_sizes=data["block_sizes"],
            n_slots=data["n_slots"],
            seed=data["seed"],
            pack_code_style=data["pack_code_style"],
        )
        try:
            if data["stratify_by_site"]:
                strata = [site.code for site in trial_selectors.sites_for_user(user=request.user)]
                created = services.list_create_stratified(spec=spec, strata=strata, by=request.user)
            else:
                created = [services.list_create(spec=spec, by=request.user)]
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request,
                _("Sealed %(n)d list(s). Check them, then activate.") % {"n": len(created)},
            )
            return redirect("list_detail", pk=created[0].pk)
    return render(request, "randomization/list_new.html", {"form": form})


@permission_required("randomization.manage_lists", raise_exception=True)
def list_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rlist = get_object_or_404(selectors.lists_for_manager(), pk=pk)
    parameters = unblinded.list_parameters(rlist=rlist, user=request.user, reason="list page")
    contents = unblinded.list_contents(rlist=rlist, user=request.user, reason="list page")
    allocated = selectors.allocated_study_ids(rlist=rlist)
    return render(
        request,
        "randomization/list_detail.html",
        {
            "rlist": rlist,
            "parameters": parameters,
            "rows": [(row, allocated.get(row.sequence)) for row in contents],
            "extend_form": ListExtendForm(
                initial={
                    "template": parameters.template,
                    "block_sizes": ", ".join(str(size) for size in parameters.block_sizes),
                }
            ),
        },
    )


@permission_required("randomization.manage_lists", raise_exception=True)
@require_POST
def list_verify(request: HttpRequest, pk: int) -> HttpResponse:
    rlist = selectors.list_by_pk(pk=pk)
    result = services.list_verify(rlist=rlist, by=request.user)
    return render(request, "randomization/list_verify.html", {"rlist": rlist, "result": result})


def _list_action(request: HttpRequest, pk: int, service, success: str) -> HttpResponse:
    """Activate or retire a list from its page: the service's refusal, or ``success``,
    shown on the page it goes back to."""
    rlist = selectors.list_by_pk(pk=pk)
    try:
        service(rlist=rlist, by=request.user)
    except ValidationError as error:
        service_errors_as_messages(request, error)
    else:
        messages.success(request, success)
    return redirect("list_detail", pk=pk)


@permission_required("randomization.manage_lists", raise_exception=True)
@require_POST
def list_activate(request: HttpRequest, pk: int) -> HttpResponse:
    return _list_action(
        request, pk, services.list_activate, _("The list is active: nurses can randomize.")
    )


@permission_required("randomization.manage_lists", raise_exception=True)
@require_POST
def list_retire(request: HttpRequest, pk: int) -> HttpResponse:
    return _list_action(request, pk, services.list_delete, _("The unused list is retired."))


@permission_required("randomization.manage_lists", raise_exception=True)
@require_POST
def list_extend(request: HttpRequest, pk: int) -> HttpResponse:
    rlist = selectors.list_by_pk(pk=pk)
    form = ListExtendForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            extension = services.list_extend(
                rlist=rlist,
                spec=services.ListSpec(
                    name=f"{rlist.name} — extension",
                    template=data["template"],
                    arms=rlist.arms,
                    ratio=rlist.ratio,
                    block_sizes=data["block_sizes"],
                    n_slots=data["n_slots"],
                    seed=data["seed"],
                    pack_code_style=rlist.pack_code_style,
                ),
                by=request.user,
            )
        except ValidationError as error:
            service_errors_as_messages(request, error)
        else:
            messages.success(request, _("Extension sealed and active."))
            return redirect("list_detail", pk=extension.pk)
    else:
        form_errors_as_messages(request, form)
    return redirect("list_detail", pk=pk)


def _download(content: bytes | str, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _export_stamp() -> str:
    return timezone.now().strftime("%Y%m%d")


@permission_required("randomization.manage_lists", raise_exception=True)
def list_csv(request: HttpRequest, pk: int) -> HttpResponse:
    rlist = selectors.list_by_pk(pk=pk)
    contents = unblinded.list_contents(rlist=rlist, user=request.user, reason="CSV export")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["position", "sequence", "block", "block_size", "arm", "pack_code"])
    for row in contents:
        writer.writerow(
            safe_row(
                [row.position, row.sequence, row.block, row.block_size, row.arm, row.pack_code]
            )
        )
    return _download(
        buffer.getvalue(),
        filename=f"unblinded-list-{rlist.pk}-{_export_stamp()}.csv",
        content_type="text/csv; charset=utf-8",
    )


@permission_required("randomization.manage_lists", raise_exception=True)
def list_sas(request: HttpRequest, pk: int) -> HttpResponse:
    rlist = selectors.list_by_pk(pk=pk)
    parameters = unblinded.list_parameters(rlist=rlist, user=request.user, reason="SAS program")
    program = lists.sas_program(
        template=parameters.template,
        seed=parameters.seed,
        arms=rlist.arms,
        ratio=rlist.ratio,
        block_sizes=parameters.block_sizes,
        n_slots=rlist.n_slots,
    )
    return _download(
        program, filename=f"list-{rlist.pk}.sas", content_type="text/plain; charset=utf-8"
    )


def _pdf(request: HttpRequest, template: str, context: dict) -> bytes:
    from weasyprint import HTML

    html = render_to_string(template, context, request=request)
    return HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()


@permission_required("randomization.manage_lists", raise_exception=True)
def list_labels_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    rlist = selectors.list_by_pk(pk=pk)
    # Labels carry no arm: the pack codes are read only in list order.
    packs = selectors.pack_codes(rlist=rlist)
    services.list_labels_record(rlist=rlist, by=request.user)
    pdf = _pdf(request, "randomization/pdf_labels.html", {"rlist": rlist, "packs": packs})
    return _download(pdf, filename=f"pack-labels-{rlist.pk}.pdf", content_type="application/pdf")


@permission_required("randomization.manage_lists", raise_exception=True)
def list_envelopes_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    rlist = selectors.list_by_pk(pk=pk)
    contents = unblinded.list_contents(rlist=rlist, user=request.user, reason="code-break sheets")
    pdf = _pdf(request, "randomization/pdf_envelopes.html", {"rlist": rlist, "rows": contents})
    return _download(
        pdf, filename=f"code-break-sheets-{rlist.pk}.pdf", content_type="application/pdf"
    )
