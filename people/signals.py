"""Every change to who may do what goes into the hash-chained audit trail.

Signals, not the people services, so that a change made anywhere — the people
pages, the Django admin (superusers), a management command, a shell — is
recorded all the same: a person's account (created, name, e-mail, active,
staff, superuser, password changed), their roles and direct permissions, a
role's permissions, their sites and all-sites flag, and their second-factor
devices (never a key). The actor is the one the people services name
(:func:`acting`), else the user of the current request, else "system".
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from simple_history.models import HistoricalRecords

from trial.audit import audit_event
from trial.models import Site, UserProfile

_actor: contextvars.ContextVar[tuple[Any, str] | None] = contextvars.ContextVar(
    "people_actor", default=None
)

USER_FIELDS = ("username", "first_name", "last_name", "email", "is_active", "is_staff")
PROTECTED_USER_FIELDS = ("is_superuser",)
PROFILE_FIELDS = ("all_sites", "language")


@contextmanager
def acting(*, by, reason: str = "") -> Iterator[None]:
    """Name who makes the changes inside the block, and why (the people services)."""
    token = _actor.set((by, reason))
    try:
        yield
    finally:
        _actor.reset(token)


def _who() -> tuple[Any, str]:
    named = _actor.get()
    if named is not None:
        return named
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user, ""
    return None, ""


def _record(*, model: str, object_id, summary: str, changes: dict) -> None:
    by, reason = _who()
    audit_event(
        user=by, model=model, object_id=object_id, summary=summary, reason=reason, changes=changes
    )


# --- accounts -----------------------------------------------------------------------------


def _user_before(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        instance._people_before = None  # a log-in, not a change of who may do what
        return
    if instance.pk is None:
        instance._people_before = {}
        return
    before = (
        sender.objects.filter(pk=instance.pk)
        .values(*USER_FIELDS, *PROTECTED_USER_FIELDS, "password")
        .first()
    )
    instance._people_before = before or {}


def _user_after(sender, instance, created, **kwargs) -> None:
    before = getattr(instance, "_people_before", {})
    if before is None:
        return
    changes = {}
    for name in (*USER_FIELDS, *PROTECTED_USER_FIELDS):
        old, new = before.get(name), getattr(instance, name)
        if created or old != new:
            changes[name] = [None if created else old, new]
    if not created and before.get("password") != instance.password:
        changes["password"] = ["", "changed"]  # that it changed, never the hash
    if not changes:
        return
    _record(
        model="auth.User",
        object_id=instance.pk,
        summary=f"Person {'created' if created else 'changed'}: {instance.username}",
        changes=changes,
    )
    instance._people_before = {}


def _profile_before(sender, instance, **kwargs) -> None:
    instance._people_before = (
        sender.objects.filter(pk=instance.pk).values(*PROFILE_FIELDS).first() if instance.pk else {}
    ) or {}


def _profile_after(sender, instance, created, **kwargs) -> None:
    before = getattr(instance, "_people_before", {})
    changes = {
        name: [None if created else before.get(name), getattr(instance, name)]
        for name in PROFILE_FIELDS
        if created or before.get(name) != getattr(instance, name)
    }
    if changes:
        _record(
            model="trial.UserProfile",
            object_id=instance.user_id,
            summary=f"Person's profile {'created' if created else 'changed'}: {instance.user}",
            changes=changes,
        )


# --- memberships: roles, permissions, sites -------------------------------------------------


def _names(model, pks) -> list[str]:
    if model is Permission:
        rows = Permission.objects.filter(pk__in=pks).values_list(
            "content_type__app_label", "codename"
        )
        return sorted(f"{app}.{codename}" for app, codename in rows)
    if model is Group:
        return sorted(Group.objects.filter(pk__in=pks).values_list("name", flat=True))
    if model is Site:
        return sorted(Site.objects.filter(pk__in=pks).values_list("code", flat=True))
    return sorted(str(obj) for obj in get_user_model().objects.filter(pk__in=pks))


def _column_to(through, model) -> str:
    """The through table's column that points at ``model``."""
    field = next(
        f for f in through._meta.get_fields() if f.many_to_one and f.related_model is model
    )
    return field.attname


def _membership(*, what: str, owner_model: str, owner_class, member_class, label: str):
    """An m2m_changed receiver recording additions and removals, from either side.

    Forward (``user.groups.add(role)``): the instance owns the membership. Reverse
    (``role.user_set.add(user)``): each object in ``pk_set`` does.
    """

    def receiver(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
        if action == "pre_clear":
            # What is about to go, so that the post_clear line can name it.
            rows = sender.objects.filter(**{_column_to(sender, type(instance)): instance.pk})
            instance._people_cleared = set(rows.values_list(_column_to(sender, model), flat=True))
            return
        if action not in {"post_add", "post_remove", "post_clear"}:
            return
        pks = instance.__dict__.pop("_people_cleared", set()) if action == "post_clear" else pk_set
        if not pks:
            return
        verb = "added" if action == "post_add" else "removed"
        if reverse:
            owners = list(owner_class.objects.filter(pk__in=pks))
            members = _names(member_class, [instance.pk])
        else:
            owners, members = [instance], _names(member_class, pks)
        for owner in owners:
            _record(
                model=owner_model,
                object_id=_owner_id(owner),
                summary=f"{label} {verb}: {_owner_name(owner)}",
                changes={what: {verb: members}},
            )

    return receiver


def _owner_id(owner) -> Any:
    return owner.user_id if isinstance(owner, UserProfile) else owner.pk


def _owner_name(owner) -> str:
    if isinstance(owner, UserProfile):
        return str(owner.user)
    return getattr(owner, "username", None) or str(owner)


# --- roles themselves and second factors ------------------------------------------------------


def _group_after(sender, instance, created, **kwargs) -> None:
    if created:
        _record(
            model="auth.Group",
            object_id=instance.pk,
            summary=f"Role created: {instance.name}",
            changes={"name": [None, instance.name]},
        )


def _group_deleted(sender, instance, **kwargs) -> None:
    _record(
        model="auth.Group",
        object_id=instance.pk,
        summary=f"Role deleted: {instance.name}",
        changes={"name": [instance.name, None]},
    )


def _device_before(sender, instance, **kwargs) -> None:
    instance._people_before = (
        sender.objects.filter(pk=instance.pk).values("name", "confirmed").first()
        if instance.pk
        else None
    )


def _device_after(sender, instance, created, **kwargs) -> None:
    before = getattr(instance, "_people_before", None) or {}
    changes = {
        name: [before.get(name), getattr(instance, name)]
        for name in ("name", "confirmed")
        if created or before.get(name) != getattr(instance, name)
    }
    if not changes:
        return  # a code was checked (django-otp saves its counters): not a change
    if created:
        summary = f"Second factor added ({'confirmed' if instance.confirmed else 'unconfirmed'})"
    elif changes.get("confirmed") == [False, True]:
        summary = "Second factor confirmed"
    else:
        summary = "Second factor changed"
    _record(
        model="otp.Device",
        object_id=instance.user_id,
        summary=f"{summary}: {instance.user}",
        changes=changes,
    )


def _device_deleted(sender, instance, **kwargs) -> None:
    _record(
        model="otp.Device",
        object_id=instance.user_id,
        summary=f"Second factor removed: {instance.user}",
        changes={"name": [instance.name, None]},
    )


def connect() -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    User = get_user_model()
    pre_save.connect(_user_before, sender=User, dispatch_uid="people.user_before")
    post_save.connect(_user_after, sender=User, dispatch_uid="people.user_after")
    pre_save.connect(_profile_before, sender=UserProfile, dispatch_uid="people.profile_before")
    post_save.connect(_profile_after, sender=UserProfile, dispatch_uid="people.profile_after")
    post_save.connect(_group_after, sender=Group, dispatch_uid="people.group_after")
    post_delete.connect(_group_deleted, sender=Group, dispatch_uid="people.group_deleted")
    pre_save.connect(_device_before, sender=TOTPDevice, dispatch_uid="people.device_before")
    post_save.connect(_device_after, sender=TOTPDevice, dispatch_uid="people.device_after")
    post_delete.connect(_device_deleted, sender=TOTPDevice, dispatch_uid="people.device_deleted")
    memberships = (
        (User.groups.through, "roles", "auth.User", User, Group, "Roles"),
        (
            User.user_permissions.through,
            "permissions",
            "auth.User",
            User,
            Permission,
            "Permissions",
        ),
        (
            Group.permissions.through,
            "permissions",
            "auth.Group",
            Group,
            Permission,
            "Role permissions",
        ),
        (UserProfile.sites.through, "sites", "trial.UserProfile", UserProfile, Site, "Sites"),
    )
    for through, what, owner_model, owner_class, member_class, label in memberships:
        m2m_changed.connect(
            _membership(
                what=what,
                owner_model=owner_model,
                owner_class=owner_class,
                member_class=member_class,
                label=label,
            ),
            sender=through,
            weak=False,
            dispatch_uid=f"people.membership.{through._meta.label}",
        )
