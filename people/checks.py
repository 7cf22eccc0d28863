"""System checks: no blinded role, and no ordinary account, can hand out roles.

Django documents that ``auth.change_user`` amounts to superuser: whoever holds it
can give anyone (themselves included) any role. The people pages are the way to
manage people; these checks fail the deployment if a group or a person that is
not a superuser holds a permission in ``ESCALATION_PERMISSIONS``, or if a
blinded group holds the right to approve unblinded roles. They read the
database, so they run with ``manage.py check --database default`` (CI does) and
on ``migrate``.
"""

from __future__ import annotations

from django.core.checks import Error, Tags, register
from django.db.models import Q
from django.db.utils import DatabaseError

from trial.roles import ESCALATION_PERMISSIONS, UNBLINDING_PERMISSIONS

APPROVE = "people.approve_unblinded_role"


def _q(dotted: set[str] | frozenset[str], prefix: str = "") -> Q:
    query = Q(pk__in=[])
    for name in dotted:
        app_label, codename = name.split(".", 1)
        query |= Q(**{f"{prefix}content_type__app_label": app_label, f"{prefix}codename": codename})
    return query


def escalation_problems() -> list[str]:
    """Every group and non-superuser account holding a permission that grants roles."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    problems = []
    escalating = Permission.objects.filter(_q(ESCALATION_PERMISSIONS))
    for group in Group.objects.filter(permissions__in=escalating).distinct().order_by("name"):
        held = sorted(
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.filter(pk__in=escalating).select_related("content_type")
        )
        problems.append(f"The role {group.name!r} holds {', '.join(held)}.")
    people = (
        get_user_model()
        .objects.filter(is_superuser=False, user_permissions__in=escalating)
        .distinct()
        .order_by("username")
    )
    for person in people:
        problems.append(f"The account {person.username!r} holds a permission that grants roles.")
    unblinding = Permission.objects.filter(_q(UNBLINDING_PERMISSIONS))
    approving = Permission.objects.filter(_q({APPROVE}))
    for group in Group.objects.filter(permissions__in=approving).distinct().order_by("name"):
        if not group.permissions.filter(pk__in=unblinding).exists():
            problems.append(
                f"The blinded role {group.name!r} may approve unblinded roles; only roles "
                "that already see arms may."
            )
    return problems


@register(Tags.database, Tags.security)
def check_no_role_escalation(app_configs=None, databases=None, **kwargs):
    if not databases:
        return []
    try:
        problems = escalation_problems()
    except DatabaseError:
        return []  # tables not migrated yet: migrate runs the check again
    return [
        Error(
            problem,
            hint="Manage people on the People pages; remove the permission from the role "
            "(trial/roles.py, then manage.py sync_roles) or the account.",
            id="people.E001",
        )
        for problem in problems
    ]
