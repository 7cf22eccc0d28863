"""Celery tasks of randomization: notices that must reach people at once.

Tasks take ids, are safe to run twice (a second run sends the same notice,
which says nothing new), and never put an arm into an e-mail.
"""

import zoneinfo

from celery import shared_task
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from trial.notify import send_in_languages, users_in_roles


@shared_task(time_limit=60, soft_time_limit=50)
def notify_code_break(code_break_id: int) -> int:
    from .models import CodeBreak

    code_break = CodeBreak.objects.select_related("participant__site", "broken_by").get(
        pk=code_break_id
    )
    # The wall-clock time at the participant's site, named, since the readers
    # (DSMB, statistician) may be anywhere.
    zone = code_break.participant.site.time_zone
    broken_at = timezone.localtime(code_break.broken_at, zoneinfo.ZoneInfo(zone))

    def compose() -> tuple[str, str]:
        subject = _("Emergency code-break: %(study_id)s") % {
            "study_id": code_break.participant.study_id
        }
        body = _(
            "%(who)s broke the allocation code for participant %(study_id)s on %(when)s.\n"
            "Reason: %(reason)s\n\nThe participant stays in follow-up. "
            "The arm is shown in the system only, never by e-mail."
        ) % {
            "who": code_break.broken_by.get_full_name() or code_break.broken_by.username,
            "study_id": code_break.participant.study_id,
            "when": f"{date_format(broken_at, 'SHORT_DATETIME_FORMAT')} ({zone})",
            "reason": code_break.reason,
        }
        return subject, body

    return len(send_in_languages(users_in_roles("dsmb", "unblinded_statistician"), compose))


@shared_task(time_limit=60, soft_time_limit=50)
def notify_list_exhausted(stratum: str) -> int:
    def compose() -> tuple[str, str]:
        body = _(
            "A nurse tried to randomize a participant but the list for stratum %(stratum)s has "
            "no unused packs left. Extend the list (a new sealed extension) so randomization "
            "can go on."
        ) % {"stratum": stratum or _("(unstratified)")}
        return _("Randomization list exhausted"), body

    return len(send_in_languages(users_in_roles("unblinded_statistician"), compose))
