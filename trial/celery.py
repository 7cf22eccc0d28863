"""The Celery application: a real worker with Redis in production, eager tasks locally."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trial.settings")

app = Celery("trial")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
