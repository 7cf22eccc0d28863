"""Celery tasks of people administration: telling the unblinded people at once.

Every request for an unblinded role, and every decision on one, goes to the
DSMB and the unblinded statisticians (and to the requester), so a role that
sees arms is never given quietly. Tasks take ids and are safe to run twice.
"""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from trial.notify import send_in_languages, users_in_roles
from trial.roles import DSMB, UNBLINDED_STATISTICIAN


def _watchers(*also):
    people = {user.pk: user for user in users_in_roles(DSMB, UNBLINDED_STATISTICIAN)}
    for user in also:
        if user is not None and user.is_active and user.email:
            people.setdefault(user.pk, user)
    return list(people.values())


def _name(user) -> str:
    return user.get_full_name() or user.username if user else ""


@shared_task(time_limit=60, soft_time_limit=50)
def notify_role_request(request_id: int, event: str) -> int:
    from .models import RoleRequest

    request = RoleRequest.objects.select_related("person", "requested_by", "decided_by").get(
        pk=request_id
    )

    def compose() -> tuple[str, str]:
        values = {
            "role": request.role,
            "person": _name(request.person),
            "requester": _name(request.requested_by),
            "decider": _name(request.decided_by),
            "reason": request.reason,
            "note": request.decision_note,
        }
        if event == RoleRequest.State.PENDING or event == "requested":
            subject = _("Unblinded role requested: %(role)s for %(person)s") % values
            body = (
                _(
                    "%(requester)s asks that %(person)s be given the unblinded role %(role)s.\n"
                    "Reason: %(reason)s\n\nA different person who already holds an unblinded "
                    "role must approve or reject it on the People pages."
                )
                % values
            )
        elif event == RoleRequest.State.APPROVED:
            subject = _("Unblinded role given: %(role)s to %(person)s") % values
            body = (
                _(
                    "%(decider)s approved the request by %(requester)s: %(person)s now holds "
                    "the unblinded role %(role)s.\nRequest: %(reason)s\nDecision: %(note)s"
                )
                % values
            )
        elif event == RoleRequest.State.REJECTED:
            subject = _("Unblinded role refused: %(role)s for %(person)s") % values
            body = (
                _(
                    "%(decider)s rejected the request by %(requester)s that %(person)s be "
                    "given the unblinded role %(role)s.\nDecision: %(note)s"
                )
                % values
            )
        else:
            subject = _("Unblinded role request withdrawn: %(role)s for %(person)s") % values
            body = _("The request by %(requester)s was withdrawn.") % values
        return str(subject), str(body)

    return len(send_in_languages(_watchers(request.requested_by), compose))


@shared_task(time_limit=60, soft_time_limit=50)
def notify_role_revoked(person_id: int, role: str) -> int:
    person = get_user_model().objects.get(pk=person_id)

    def compose() -> tuple[str, str]:
        values = {"role": role, "person": _name(person)}
        return (
            str(_("Unblinded role removed: %(role)s from %(person)s") % values),
            str(_("%(person)s no longer holds the unblinded role %(role)s.") % values),
        )

    return len(send_in_languages(_watchers(person), compose))
