"""Views of people administration: permission, form, one service call, redirect.

The services decide who may do what (two people for an unblinded role, nobody
on themselves); a refusal is shown as a message on the page it came from.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from trial.forms import apply_errors
from trial.roles import role_label
from trial.versions import StaleEdit

from . import selectors, services
from .forms import DecisionForm, PersonForm, ReasonForm, RoleRequestForm
from .models import RoleRequest


def _blinded_roles() -> list[str]:
    from django.contrib.auth.models import Group

    unblinded = services.unblinded_role_names()
    return [name for name in Group.objects.values_list("name", flat=True) if name not in unblinded]


def _person_form(data=None, *, person=None, initial=None) -> PersonForm:
    return PersonForm(
        data, blinded_roles=_blinded_roles(), inviting=person is None, initial=initial
    )


def _initial(person) -> dict:
    profile = getattr(person, "profile", None)
    return {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "language": profile.language if profile else "",
        "all_sites": profile.all_sites if profile else False,
        "sites": list(profile.sites.all()) if profile else [],
        "roles": [g.name for g in person.groups.all()],
        "version": services.person_version(person),
    }


def _show_refusal(request, error: PermissionDenied) -> None:
    messages.error(request, str(error) if str(error) else _("You may not do this."))


def people_list(request: HttpRequest) -> HttpResponse:
    if not selectors.may_see_people(request.user):
        raise PermissionDenied
    search = request.GET.get("q", "")
    return render(
        request,
        "people/people_list.html",
        {
            "people": selectors.people(user=request.user, search=search),
            "pending": selectors.role_requests(user=request.user, pending_only=True),
            "q": search,
            "may_manage": request.user.has_perm(services.MANAGE),
        },
    )


@require_http_methods(["GET", "POST"])
def person_invite(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(services.MANAGE):
        raise PermissionDenied
    form = _person_form(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            person = services.person_invite(
                username=form.cleaned_data["username"], data=form.person_input(), by=request.user
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request,
                _("%(username)s is invited: a link to choose a password was e-mailed.")
                % {"username": person.username},
            )
            return redirect("person_detail", pk=person.pk)
    return render(request, "people/person_invite.html", {"form": form})


def _detail(request, person, *, status: int = 200, **forms) -> HttpResponse:
    user = request.user
    unblinded = services.unblinded_role_names()
    held_unblinded = [g.name for g in person.groups.all() if g.name in unblinded]
    context = {
        "person": person,
        "roles": [role_label(g.name) for g in person.groups.all()],
        "held_unblinded": [(name, role_label(name)) for name in held_unblinded],
        "protected": services.holds_unblinded_access(person),
        "is_self": person.pk == user.pk,
        "may_manage": user.has_perm(services.MANAGE),
        "may_approve": user.has_perm(services.APPROVE),
        "requests": selectors.role_requests(user=user).filter(person=person)[:10],
        "changes": forms.pop("changes", None),
        "form": forms.get("form") or _person_form(person=person, initial=_initial(person)),
        "deactivate_form": forms.get("deactivate_form")
        or ReasonForm(prefix="deactivate", submit_label=_("Deactivate")),
        "reactivate_form": forms.get("reactivate_form")
        or ReasonForm(prefix="reactivate", submit_label=_("Reactivate")),
        "second_factor_form": forms.get("second_factor_form")
        or ReasonForm(prefix="second_factor", submit_label=_("Reset the second factor")),
        "revoke_form": forms.get("revoke_form")
        or ReasonForm(prefix="revoke", submit_label=_("Remove the role")),
        "request_form": forms.get("request_form")
        or RoleRequestForm(
            prefix="request", unblinded_roles=[r for r in unblinded if r not in held_unblinded]
        ),
    }
    return render(request, "people/person_detail.html", context, status=status)


@require_http_methods(["GET", "POST"])
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.person(user=request.user, pk=pk)
    if request.method == "GET":
        return _detail(request, person)
    if not request.user.has_perm(services.MANAGE):
        raise PermissionDenied
    form = _person_form(request.POST, person=person)
    if form.is_valid():
        try:
            services.person_update(
                person=person,
                data=form.person_input(),
                version=form.cleaned_data["version"],
                by=request.user,
            )
        except StaleEdit as stale:
            # Keep what was typed; the fresh token makes the next save a conscious one.
            data = request.POST.copy()
            data["version"] = services.person_version(person)
            form = _person_form(data, person=person)
            form.is_valid()
            form.add_error(None, stale.messages[0])
            return _detail(request, person, status=409, form=form, changes=stale.changes)
        except PermissionDenied as refusal:
            _show_refusal(request, refusal)
            return _detail(request, person, status=403, form=form)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Saved."))
            return redirect("person_detail", pk=person.pk)
    return _detail(request, person, status=400, form=form)


def _reason_action(request, pk: int, *, prefix: str, label: str, service, done: str):
    person = selectors.person(user=request.user, pk=pk)
    form = ReasonForm(request.POST, prefix=prefix, submit_label=label)
    if form.is_valid():
        try:
            service(person=person, reason=form.cleaned_data["reason"], by=request.user)
        except PermissionDenied as refusal:
            _show_refusal(request, refusal)
            return _detail(request, person, status=403, **{f"{prefix}_form": form})
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, done)
            return redirect("person_detail", pk=person.pk)
    return _detail(request, person, status=400, **{f"{prefix}_form": form})


@require_POST
def person_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _reason_action(
        request,
        pk,
        prefix="deactivate",
        label=_("Deactivate"),
        service=services.person_deactivate,
        done=_("The account is deactivated; its sessions end now."),
    )


@require_POST
def person_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _reason_action(
        request,
        pk,
        prefix="reactivate",
        label=_("Reactivate"),
        service=services.person_reactivate,
        done=_("The account is active again."),
    )


@require_POST
def person_second_factor_reset(request: HttpRequest, pk: int) -> HttpResponse:
    return _reason_action(
        request,
        pk,
        prefix="second_factor",
        label=_("Reset the second factor"),
        service=services.second_factor_reset,
        done=_("The second factor is reset: a new authenticator is enrolled at the next log-in."),
    )


@require_POST
def person_password_link(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.person(user=request.user, pk=pk)
    try:
        services.password_link_send(person=person, by=request.user)
    except PermissionDenied as refusal:
        _show_refusal(request, refusal)
        return _detail(request, person, status=403)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return _detail(request, person, status=400)
    messages.success(request, _("A link to choose a password was e-mailed."))
    return redirect("person_detail", pk=person.pk)


@require_POST
def person_role_request(request: HttpRequest, pk: int) -> HttpResponse:
    person = selectors.person(user=request.user, pk=pk)
    form = RoleRequestForm(
        request.POST, prefix="request", unblinded_roles=services.unblinded_role_names()
    )
    if form.is_valid():
        try:
            services.role_request_create(
                person=person,
                role=form.cleaned_data["role"],
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except PermissionDenied as refusal:
            _show_refusal(request, refusal)
            return _detail(request, person, status=403, request_form=form)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request,
                _(
                    "Requested. A different person who holds an unblinded role must approve "
                    "it; the DSMB and the statisticians are told."
                ),
            )
            return redirect("person_detail", pk=person.pk)
    return _detail(request, person, status=400, request_form=form)


@require_POST
def person_role_revoke(request: HttpRequest, pk: int, role: str) -> HttpResponse:
    person = selectors.person(user=request.user, pk=pk)
    form = ReasonForm(request.POST, prefix="revoke", submit_label=_("Remove the role"))
    if form.is_valid():
        try:
            services.role_revoke(
                person=person, role=role, reason=form.cleaned_data["reason"], by=request.user
            )
        except PermissionDenied as refusal:
            _show_refusal(request, refusal)
            return _detail(request, person, status=403, revoke_form=form)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("The role is removed."))
            return redirect("person_detail", pk=person.pk)
    return _detail(request, person, status=400, revoke_form=form)


@require_http_methods(["GET", "POST"])
def role_request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    role_request = selectors.role_request(user=request.user, pk=pk)
    may_decide = (
        request.user.has_perm(services.APPROVE)
        and role_request.state == RoleRequest.State.PENDING
        and request.user.pk not in {role_request.requested_by_id, role_request.person_id}
    )
    form = DecisionForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if not request.user.has_perm(services.APPROVE):
            raise PermissionDenied
        if form.is_valid():
            try:
                services.role_request_decide(
                    request=role_request,
                    approve=form.cleaned_data["decision"] == "approve",
                    note=form.cleaned_data["note"],
                    password=form.cleaned_data["password"],
                    by=request.user,
                )
            except PermissionDenied as refusal:
                _show_refusal(request, refusal)
                status = 403
            except ValidationError as error:
                apply_errors(form, error)
                status = 400
            else:
                messages.success(
                    request, _("Decision recorded; the DSMB and statisticians are told.")
                )
                return redirect("role_request_detail", pk=role_request.pk)
        else:
            status = 400
    return render(
        request,
        "people/role_request.html",
        {
            "role_request": role_request,
            "role": role_label(role_request.role),
            "form": form if may_decide else None,
            "may_withdraw": role_request.state == RoleRequest.State.PENDING
            and (
                role_request.requested_by_id == request.user.pk
                or request.user.has_perm(services.MANAGE)
            ),
        },
        status=status,
    )


@require_POST
def role_request_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    role_request = selectors.role_request(user=request.user, pk=pk)
    try:
        services.role_request_withdraw(request=role_request, by=request.user)
    except PermissionDenied as refusal:
        _show_refusal(request, refusal)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("The request is withdrawn."))
    return redirect("role_request_detail", pk=role_request.pk)
