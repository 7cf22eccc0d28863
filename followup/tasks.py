"""Celery tasks of follow-up: the daily visit-state update and digests, SAE notices.

Both are idempotent: the state update changes nothing on a second run, and a
digest is recorded (DigestSent) before it is sent, once per person per day.
"""

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from trial.audit import audit_event
from trial.notify import send_in_languages, users_in_roles


@shared_task(time_limit=600, soft_time_limit=540)
def daily_followup() -> dict:
    from .models import DigestSent
    from .selectors import digest_visits_for
    from .services import visits_refresh

    today = timezone.localdate()
    changed = visits_refresh(today=today)
    sent = 0
    people = (
        get_user_model()
        .objects.filter(groups__name__in=["research_nurse", "blinded_assessor"], is_active=True)
        .exclude(email="")
        .distinct()
    )
    for user in people:
        visits = digest_visits_for(user=user, today=today)
        if not visits:
            continue
        try:
            with transaction.atomic():
                DigestSent.objects.create(user=user, day=today, items=len(visits))
                page = "call_list" if user.has_perm("followup.view_call_list") else "worklist"

                def compose(visits=visits, page=page) -> tuple[str, str]:
                    lines = [
                        f"{v.participant.study_id}  {v.display_label}  {v.get_status_display()}  "
                        f"{date_format(v.window_opens, 'SHORT_DATE_FORMAT')} – "
                        f"{date_format(v.window_closes, 'SHORT_DATE_FORMAT')}"
                        for v in visits
                    ]
                    subject = _("Follow-up visits due and overdue: %(n)d") % {"n": len(visits)}
                    link = settings.SITE_URL.rstrip("/") + reverse(page)
                    return subject, "\n".join([*lines, "", link])

                send_in_languages([user], compose)
                sent += 1
        except IntegrityError:
            continue  # already sent today
    return {"visits_changed": changed, "digests_sent": sent}


@shared_task(time_limit=60, soft_time_limit=50)
def notify_sae(event_id: int) -> int:
    """Tell investigators and the DSMB at once about a serious adverse event."""
    from .models import SAE_CRITERIA, AdverseEvent

    event = AdverseEvent.objects.select_related("participant").get(pk=event_id)
    labels = dict(SAE_CRITERIA)

    def compose() -> tuple[str, str]:
        subject = _("Serious adverse event: %(study_id)s") % {
            "study_id": event.participant.study_id
        }
        body = _(
            "A serious adverse event was recorded for %(study_id)s: %(term)s (onset %(onset)s, "
            "%(severity)s; %(criteria)s). An investigator must review it: %(url)s"
        ) % {
            "study_id": event.participant.study_id,
            "term": event.term,
            "onset": date_format(event.onset_date, "SHORT_DATE_FORMAT"),
            "severity": event.get_severity_display(),
            "criteria": ", ".join(str(labels[c]) for c in event.sae_criteria),
            "url": settings.SITE_URL.rstrip("/") + reverse("sae_list"),
        }
        return subject, body

    recipients = send_in_languages(users_in_roles("investigator", "dsmb"), compose)
    audit_event(
        user=None,
        model="followup.AdverseEvent",
        object_id=event.pk,
        subject=event.participant.study_id,
        summary=f"SAE notification sent to {len(recipients)} recipient(s)",
    )
    return len(recipients)
