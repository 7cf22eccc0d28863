"""Celery tasks of randomization: notices that must reach people at once.

Tasks take ids, are safe to run twice (a second run sends the same notice,
which says nothing new), and never put an arm into an e-mail.
"""

from celery import shared_task
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.utils.translation import gettext as _


def _addresses(*roles: str) -> list[str]:
    User = get_user_model()
    return sorted(
        {
            email
            for email in User.objects.filter(groups__name__in=roles, is_active=True).values_list(
                "email", flat=True
            )
            if email
        }
    )


@shared_task(time_limit=60, soft_time_limit=50)
def notify_code_break(code_break_id: int) -> int:
    from .models import CodeBreak

    code_break = CodeBreak.objects.select_related("participant", "broken_by").get(pk=code_break_id)
    recipients = _addresses("dsmb", "unblinded_statistician")
    if not recipients:
        return 0
    send_mail(
        subject=_("Emergency code-break: %(study_id)s")
        % {"study_id": code_break.participant.study_id},
        message=_(
            "%(who)s broke the allocation code for participant %(study_id)s on %(when)s.\n"
            "Reason: %(reason)s\n\nThe participant stays in follow-up. "
            "The arm is shown in the system only, never by e-mail."
        )
        % {
            "who": code_break.broken_by.get_full_name() or code_break.broken_by.username,
            "study_id": code_break.participant.study_id,
            "when": code_break.broken_at.strftime("%Y-%m-%d %H:%M UTC"),
            "reason": code_break.reason,
        },
        from_email=None,
        recipient_list=recipients,
    )
    return len(recipients)


@shared_task(time_limit=60, soft_time_limit=50)
def notify_list_exhausted(stratum: str) -> int:
    recipients = _addresses("unblinded_statistician")
    if not recipients:
        return 0
    send_mail(
        subject=_("Randomization list exhausted"),
        message=_(
            "A nurse tried to randomize a participant but the list for stratum %(stratum)s has "
            "no unused packs left. Extend the list (a new sealed extension) so randomization "
            "can go on."
        )
        % {"stratum": stratum or _("(unstratified)")},
        from_email=None,
        recipient_list=recipients,
    )
    return len(recipients)
