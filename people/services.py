"""Write layer of people administration: invite, change, deactivate; roles by two people.

The rules, checked here whatever page or command calls:

- Managing people needs ``people.manage_people`` (the data manager); nobody
  changes their own roles, sites or second factor.
- Blinded roles (any group without an unblinding permission, see
  ``trial.roles.UNBLINDING_PERMISSIONS``) are given and taken by one manager.
- An unblinded role is given only when one person requests it and a different
  person who already holds an unblinded role approves, re-entering their
  password; neither may be the person concerned. The DSMB and the unblinded
  statisticians are told of every request and decision.
- A person holding an unblinded role is protected: only someone who holds one
  too (and is not them) may change their e-mail address, send them a password
  link, reset their second factor or reactivate them — each of those would
  otherwise let a blinded manager take the account over.

Every change is recorded in the audit trail by ``people.signals`` with the actor
and reason given here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext_lazy as _

from trial.audit import audit_event
from trial.locks import lock_one
from trial.models import Language, Site, UserProfile
from trial.roles import STAFF_ROLES, UNBLINDING_PERMISSIONS
from trial.text import optional_text, required_text
from trial.versions import check_unchanged, token_for

from .models import RoleRequest
from .signals import acting

MANAGE = "people.manage_people"
APPROVE = "people.approve_unblinded_role"

NOT_ALLOWED = _("You may not manage people.")
NOT_YOURSELF = _("Nobody changes their own roles, sites or second factor: ask another manager.")
UNBLINDED_ROLE_NEEDS_REQUEST = _(
    "%(role)s sees allocations: request it, and a different person who already holds "
    "an unblinded role must approve."
)
UNKNOWN_ROLE = _("There is no such role.")
NOT_AN_UNBLINDED_ROLE = _("This role is blinded: give it on the person's page.")
ALREADY_HOLDS_ROLE = _("This person already holds this role.")
DOES_NOT_HOLD_ROLE = _("This person does not hold this role.")
REQUEST_PENDING = _("A request for this role is already awaiting approval.")
INACTIVE_PERSON = _("This person's account is deactivated.")
APPROVER_NOT_UNBLINDED = _("Only someone who already holds an unblinded role may approve.")
APPROVER_INVOLVED = _("The person who asked, and the person concerned, cannot decide.")
REQUEST_DECIDED = _("This request has already been decided.")
WRONG_PASSWORD = _("The password is not correct.")
REASON_REQUIRED = _("Give the reason.")
PROTECTED_PERSON = _(
    "This person holds an unblinded role: only another person who holds one may change "
    "their e-mail address, send them a password link, reset their second factor or "
    "reactivate them."
)
USERNAME_TAKEN = _("This username is taken.")
EMAIL_REQUIRED = _("An e-mail address is needed to send the invitation.")

User = get_user_model()


# --- what a role is -------------------------------------------------------------------------


def _unblinding_q(prefix: str = "permissions__"):
    from django.db.models import Q

    query = Q(pk__in=[])
    for name in UNBLINDING_PERMISSIONS:
        app_label, codename = name.split(".", 1)
        query |= Q(**{f"{prefix}content_type__app_label": app_label, f"{prefix}codename": codename})
    return query


def unblinded_role_names() -> set[str]:
    """Roles that see arms, from what they may do (so a role added later counts too)."""
    return set(Group.objects.filter(_unblinding_q()).values_list("name", flat=True))


def holds_unblinded_access(person) -> bool:
    """Whether the person's account carries the right to learn arms, active or not
    (a deactivated statistician is still protected: reactivating them unblinds)."""
    from django.contrib.auth.models import Permission

    if User.objects.filter(pk=person.pk, is_superuser=True).exists():
        return True
    if Group.objects.filter(user=person).filter(_unblinding_q()).exists():
        return True
    return Permission.objects.filter(user=person).filter(_unblinding_q(prefix="")).exists()


def _require(by, permission: str) -> None:
    if not (by.is_active and by.has_perm(permission)):
        raise PermissionDenied(NOT_ALLOWED)


def _require_manager_or_approver(by) -> None:
    if not (by.is_active and (by.has_perm(MANAGE) or by.has_perm(APPROVE))):
        raise PermissionDenied(NOT_ALLOWED)


def _not_oneself(person, by) -> None:
    if person.pk == by.pk:
        raise PermissionDenied(NOT_YOURSELF)


def _protected(person, by) -> None:
    """Changes that could hand the account to someone else need an unblinded actor."""
    if holds_unblinded_access(person) and not by.has_perm(APPROVE):
        raise PermissionDenied(PROTECTED_PERSON)


# --- the state a form was loaded from --------------------------------------------------------


def person_state(person) -> dict:
    """Everything the person form edits (``trial.versions`` compares it at save)."""
    person = User.objects.select_related("profile").get(pk=person.pk)
    profile = getattr(person, "profile", None)
    return {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "roles": sorted(person.groups.values_list("name", flat=True)),
        "language": profile.language if profile else "",
        "all_sites": profile.all_sites if profile else False,
        "sites": sorted(profile.sites.values_list("code", flat=True)) if profile else [],
    }


def person_version(person) -> str:
    return token_for(person_state(person))


@dataclass(frozen=True)
class PersonInput:
    first_name: str
    last_name: str
    email: str
    language: str = ""
    sites: list[Site] = field(default_factory=list)
    all_sites: bool = False
    roles: list[str] = field(default_factory=list)  # blinded role names only


def _check_person_input(data: PersonInput) -> dict[str, list]:
    errors: dict[str, list] = {}
    if data.language and data.language not in Language.values:
        errors["language"] = [_("Choose English or 中文.")]
    groups = set(Group.objects.filter(name__in=data.roles).values_list("name", flat=True))
    unknown = set(data.roles) - groups
    if unknown:
        errors["roles"] = [UNKNOWN_ROLE]
    for role in sorted(set(data.roles) & unblinded_role_names()):
        errors.setdefault("roles", []).append(UNBLINDED_ROLE_NEEDS_REQUEST % {"role": role})
    return errors


def _apply(person, data: PersonInput) -> None:
    """Write names, e-mail, profile and blinded roles (unblinded roles are kept)."""
    person.first_name = optional_text(data.first_name, field="first_name")
    person.last_name = optional_text(data.last_name, field="last_name")
    person.email = data.email.strip()
    if person.pk is None:
        person.save()
    keep = set(person.groups.filter(name__in=unblinded_role_names()).values_list("name", flat=True))
    roles = set(data.roles) | keep
    person.is_staff = bool(roles & STAFF_ROLES) or person.is_superuser
    person.save()
    person.groups.set(Group.objects.filter(name__in=roles))
    profile, _created = UserProfile.objects.get_or_create(user=person)
    profile.language = data.language
    profile.all_sites = data.all_sites
    profile.save()
    profile.sites.set(data.sites)


def invitation_link(person) -> str:
    uid = urlsafe_base64_encode(force_bytes(person.pk))
    token = default_token_generator.make_token(person)
    path = reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _send_password_link(person, *, invited: bool) -> None:
    from trial.notify import send_in_languages

    link = invitation_link(person)

    def compose() -> tuple[str, str]:
        subject = (
            _("You are invited to the MLT trial data system")
            if invited
            else _("Set your password for the MLT trial data system")
        )
        body = _(
            "Hello %(name)s,\n\nYour username is %(username)s. Choose your password here "
            "(the link works once, for a few days):\n\n%(link)s\n"
        ) % {
            "name": person.get_full_name() or person.username,
            "username": person.username,
            "link": link,
        }
        return str(subject), str(body)

    send_in_languages([person], compose)


def person_invite(*, username: str, data: PersonInput, by):
    """Create an account with blinded roles and e-mail a link to choose a password."""
    _require(by, MANAGE)
    errors = _check_person_input(data)
    username = (username or "").strip()
    if not username:
        errors["username"] = [_("Give a username.")]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = [USERNAME_TAKEN]
    if not data.email.strip():
        errors["email"] = [EMAIL_REQUIRED]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic(), acting(by=by, reason="Invited"):
        person = User(username=username)
        person.set_unusable_password()
        _apply(person, data)
        transaction.on_commit(lambda: _send_password_link(person, invited=True))
    return person


def person_update(*, person, data: PersonInput, version: str | None, by):
    """Change a person's details, sites and blinded roles (never one's own roles or sites)."""
    _require(by, MANAGE)
    errors = _check_person_input(data)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = lock_one(User.objects.filter(pk=person.pk))
        check_unchanged(version, person_state(locked))
        profile = getattr(locked, "profile", None)
        if locked.pk == by.pk:
            same_roles = set(data.roles) == set(
                locked.groups.exclude(name__in=unblinded_role_names()).values_list(
                    "name", flat=True
                )
            )
            same_sites = (
                profile is not None
                and profile.all_sites == data.all_sites
                and set(profile.sites.all()) == set(data.sites)
            )
            if not (same_roles and same_sites):
                raise PermissionDenied(NOT_YOURSELF)
        if data.email.strip() != locked.email:
            _protected(locked, by)
        with acting(by=by, reason="Details changed"):
            _apply(locked, data)
    return locked


def person_deactivate(*, person, reason: str, by):
    """Deactivate an account (never deleted: the trail names it). Sessions end at once."""
    _require_manager_or_approver(by)
    _not_oneself(person, by)
    reason = required_text(reason, field="reason", message=REASON_REQUIRED)
    with transaction.atomic():
        locked = lock_one(User.objects.filter(pk=person.pk))
        with acting(by=by, reason=reason):
            locked.is_active = False
            locked.save(update_fields=["is_active"])
    return locked


def person_reactivate(*, person, reason: str, by):
    _require_manager_or_approver(by)
    _not_oneself(person, by)
    _protected(person, by)
    reason = required_text(reason, field="reason", message=REASON_REQUIRED)
    with transaction.atomic():
        locked = lock_one(User.objects.filter(pk=person.pk))
        with acting(by=by, reason=reason):
            locked.is_active = True
            locked.save(update_fields=["is_active"])
    return locked


def password_link_send(*, person, by) -> None:
    """E-mail the person a link to choose a new password."""
    _require_manager_or_approver(by)
    _not_oneself(person, by)
    _protected(person, by)
    if not person.is_active:
        raise ValidationError(INACTIVE_PERSON)
    if not person.email:
        raise ValidationError(EMAIL_REQUIRED)
    with transaction.atomic():
        audit_event(
            user=by,
            model="auth.User",
            object_id=person.pk,
            summary=f"Password link sent: {person.username}",
        )
        transaction.on_commit(lambda: _send_password_link(person, invited=False))


def second_factor_reset(*, person, reason: str, by) -> int:
    """Remove a person's authenticators: they enrol a new one at their next log-in."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    _require_manager_or_approver(by)
    _not_oneself(person, by)
    _protected(person, by)
    reason = required_text(reason, field="reason", message=REASON_REQUIRED)
    with transaction.atomic(), acting(by=by, reason=reason):
        devices = list(TOTPDevice.objects.select_for_update().filter(user=person))
        for device in devices:
            device.delete()
    return len(devices)


# --- unblinded roles: two people -------------------------------------------------------------


def _unblinded_role(role: str) -> Group:
    group = Group.objects.filter(name=role).first()
    if group is None:
        raise ValidationError({"role": [UNKNOWN_ROLE]})
    if role not in unblinded_role_names():
        raise ValidationError({"role": [NOT_AN_UNBLINDED_ROLE]})
    return group


def _notify(request_id: int, event: str) -> None:
    from .tasks import notify_role_request

    transaction.on_commit(lambda: notify_role_request.delay(request_id, event))


def role_request_create(*, person, role: str, reason: str, by) -> RoleRequest:
    """Ask for an unblinded role for someone else; a different unblinded person approves."""
    _require_manager_or_approver(by)
    _not_oneself(person, by)
    reason = required_text(reason, field="reason", message=REASON_REQUIRED)
    group = _unblinded_role(role)
    with transaction.atomic():
        locked = lock_one(User.objects.filter(pk=person.pk))
        if not locked.is_active:
            raise ValidationError(INACTIVE_PERSON)
        if locked.groups.filter(pk=group.pk).exists():
            raise ValidationError({"role": [ALREADY_HOLDS_ROLE]})
        if RoleRequest.objects.filter(
            person=locked, role=role, state=RoleRequest.State.PENDING
        ).exists():
            raise ValidationError({"role": [REQUEST_PENDING]})
        request = RoleRequest.objects.create(
            person=locked, role=role, reason=reason, requested_by=by
        )
        audit_event(
            user=by,
            model="people.RoleRequest",
            object_id=request.pk,
            summary=f"Unblinded role requested: {role} for {locked.username}",
            reason=reason,
            changes={"role": [None, role], "person": [None, locked.username]},
        )
        _notify(request.pk, "requested")
    return request


def role_request_decide(*, request: RoleRequest, approve: bool, note: str, password: str, by):
    """Approve (the role is given at once) or reject a request, with a note and the
    decider's password. The decider holds an unblinded role and is neither the
    requester nor the person concerned (the database refuses it too)."""
    if not (by.is_active and by.has_perm(APPROVE) and holds_unblinded_access(by)):
        raise PermissionDenied(APPROVER_NOT_UNBLINDED)
    errors: dict[str, list] = {}
    try:
        note = required_text(note, field="note", message=REASON_REQUIRED)
    except ValidationError as error:
        errors.update(error.error_dict)
    if not by.check_password(password or ""):
        errors["password"] = [WRONG_PASSWORD]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = lock_one(RoleRequest.objects.filter(pk=request.pk))
        if locked.state != RoleRequest.State.PENDING:
            raise ValidationError(REQUEST_DECIDED)
        if by.pk in {locked.requested_by_id, locked.person_id}:
            raise PermissionDenied(APPROVER_INVOLVED)
        person = lock_one(User.objects.filter(pk=locked.person_id))
        locked.state = RoleRequest.State.APPROVED if approve else RoleRequest.State.REJECTED
        locked.decided_by = by
        locked.decided_at = timezone.now()
        locked.decision_note = note
        locked.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
        if approve:
            if not person.is_active:
                raise ValidationError(INACTIVE_PERSON)
            with acting(by=by, reason=f"Approved request {locked.pk}: {note}"):
                person.groups.add(_unblinded_role(locked.role))
        audit_event(
            user=by,
            model="people.RoleRequest",
            object_id=locked.pk,
            summary=f"Unblinded role {'approved' if approve else 'rejected'}: "
            f"{locked.role} for {person.username}",
            reason=note,
            changes={"state": [RoleRequest.State.PENDING, locked.state]},
        )
        _notify(locked.pk, locked.state)
    return locked


def role_request_withdraw(*, request: RoleRequest, by) -> RoleRequest:
    with transaction.atomic():
        locked = lock_one(RoleRequest.objects.filter(pk=request.pk))
        if locked.requested_by_id != by.pk and not by.has_perm(MANAGE):
            raise PermissionDenied(NOT_ALLOWED)
        if locked.state != RoleRequest.State.PENDING:
            raise ValidationError(REQUEST_DECIDED)
        locked.state = RoleRequest.State.WITHDRAWN
        locked.save(update_fields=["state"])
        audit_event(
            user=by,
            model="people.RoleRequest",
            object_id=locked.pk,
            summary=f"Unblinded role request withdrawn: {locked.role}",
            changes={"state": [RoleRequest.State.PENDING, locked.state]},
        )
        _notify(locked.pk, locked.state)
    return locked


def role_revoke(*, person, role: str, reason: str, by):
    """Take an unblinded role away (one person suffices: it only narrows access)."""
    _require_manager_or_approver(by)
    _not_oneself(person, by)
    reason = required_text(reason, field="reason", message=REASON_REQUIRED)
    group = _unblinded_role(role)
    with transaction.atomic():
        locked = lock_one(User.objects.filter(pk=person.pk))
        if not locked.groups.filter(pk=group.pk).exists():
            raise ValidationError({"role": [DOES_NOT_HOLD_ROLE]})
        with acting(by=by, reason=reason):
            locked.groups.remove(group)
        audit_event(
            user=by,
            model="people.RoleRequest",
            summary=f"Unblinded role revoked: {role} from {locked.username}",
            reason=reason,
        )
        transaction.on_commit(lambda: _notify_revoked(locked.pk, role))
    return locked


def _notify_revoked(person_id: int, role: str) -> None:
    from .tasks import notify_role_revoked

    notify_role_revoked.delay(person_id, role)
