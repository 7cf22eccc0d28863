"""Celery tasks of questionnaires: the PHQ-9 item 9 alert must reach a clinician at once."""

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.translation import gettext as _

from trial.audit import audit_event


@shared_task(time_limit=60, soft_time_limit=50, autoretry_for=(OSError,), max_retries=5)
def notify_safety_alert(alert_id: int) -> int:
    """E-mail every active investigator; audited. Safe to run twice (a repeat notice)."""
    from .models import SafetyAlert

    alert = SafetyAlert.objects.select_related("participant", "response").get(pk=alert_id)
    recipients = sorted(
        {
            email
            for email in get_user_model()
            .objects.filter(groups__name="investigator", is_active=True)
            .values_list("email", flat=True)
            if email
        }
    )
    answer = _("not answered") if alert.item9_value is None else str(alert.item9_value)
    if recipients:
        send_mail(
            subject=_("PHQ-9 item 9 safety alert: %(study_id)s")
            % {"study_id": alert.participant.study_id},
            message=_(
                "Participant %(study_id)s answered PHQ-9 item 9 (thoughts of death or self-harm) "
                "with: %(answer)s, at the %(visit)s visit on %(date)s.\n\n"
                "Please assess the participant now and acknowledge the alert in the trial "
                "system: %(path)s"
            )
            % {
                "study_id": alert.participant.study_id,
                "answer": answer,
                "visit": alert.response.get_visit_display(),
                "date": alert.response.administered_on.isoformat(),
                "path": settings.SITE_URL.rstrip("/") + reverse("alert_list"),
            },
            from_email=None,
            recipient_list=recipients,
        )
    audit_event(
        user=None,
        model="questionnaires.SafetyAlert",
        object_id=alert.pk,
        subject=alert.participant.study_id,
        summary=f"Safety alert notification sent to {len(recipients)} investigator(s)",
        changes={"recipients": recipients},
    )
    return len(recipients)
