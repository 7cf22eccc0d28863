"""Celery tasks of questionnaires: the PHQ-9 item 9 alert must reach a clinician at once."""

from celery import shared_task
from django.conf import settings
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from trial.audit import audit_event
from trial.notify import send_in_languages, users_in_roles


@shared_task(time_limit=60, soft_time_limit=50, autoretry_for=(OSError,), max_retries=5)
def notify_safety_alert(alert_id: int) -> int:
    """E-mail every active investigator; audited. Safe to run twice (a repeat notice)."""
    from .models import SafetyAlert

    alert = SafetyAlert.objects.select_related("participant", "response").get(pk=alert_id)

    def compose() -> tuple[str, str]:
        answer = _("not answered") if alert.item9_value is None else str(alert.item9_value)
        subject = _("PHQ-9 item 9 safety alert: %(study_id)s") % {
            "study_id": alert.participant.study_id
        }
        body = _(
            "Participant %(study_id)s answered PHQ-9 item 9 (thoughts of death or self-harm) "
            "with: %(answer)s, at the %(visit)s visit on %(date)s.\n\n"
            "Please assess the participant now and acknowledge the alert in the trial "
            "system: %(path)s"
        ) % {
            "study_id": alert.participant.study_id,
            "answer": answer,
            "visit": alert.response.get_visit_display(),
            "date": date_format(alert.response.administered_on, "SHORT_DATE_FORMAT"),
            "path": settings.SITE_URL.rstrip("/") + reverse("alert_list"),
        }
        return subject, body

    recipients = send_in_languages(users_in_roles("investigator"), compose)
    audit_event(
        user=None,
        model="questionnaires.SafetyAlert",
        object_id=alert.pk,
        subject=alert.participant.study_id,
        summary=f"Safety alert notification sent to {len(recipients)} investigator(s)",
        changes={"recipients": recipients},
    )
    return len(recipients)
