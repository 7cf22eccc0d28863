"""The PHQ-9 item 9 alert through the real Redis broker and a real Celery worker (CI)."""

import os

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from conftest import require_component
from questionnaires import services
from questionnaires.models import SafetyAlert
from trial.models import AuditEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_alert_notification_travels_through_redis(
    require_postgres, make_participant, nurse, investigator
):
    require_component(bool(os.environ.get("REDIS_URL")), "Redis (set REDIS_URL)")
    from celery.contrib.testing.worker import start_worker

    from trial.celery import app

    investigator.email = "pi@example.org"
    investigator.save()
    participant = make_participant()
    app.conf.task_always_eager = False
    app.conf.broker_url = os.environ["REDIS_URL"]
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            services.response_record(
                participant=participant,
                visit="baseline",
                instrument="phq9",
                answers={**{f"phq9_{n}": 0 for n in range(1, 9)}, "phq9_9": 2},
                administration=services.Administration(
                    administered_on=timezone.localdate(), mode="in_person"
                ),
                by=nurse,
            )
            alert = SafetyAlert.objects.get()
            # The worker picks the task from Redis; wait for its audit line.
            for _ in range(100):
                if AuditEvent.objects.filter(
                    summary__startswith="Safety alert notification"
                ).exists():
                    break
                connection.close()
                import time

                time.sleep(0.1)
    finally:
        app.conf.task_always_eager = True
    assert AuditEvent.objects.filter(
        summary="Safety alert notification sent to 1 investigator(s)", object_id=str(alert.pk)
    ).exists()
    assert [m.to for m in mail.outbox] == [["pi@example.org"]]
