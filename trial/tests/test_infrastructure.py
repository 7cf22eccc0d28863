"""The real components: PostgreSQL, Redis and Chromium in CI; the settings switches."""

import os
import shutil

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from conftest import CHROMIUM, IN_CI, require_component


@pytest.mark.django_db
def test_database_is_postgresql_in_ci():
    if IN_CI:
        assert connection.vendor == "postgresql", "CI must run against PostgreSQL"
    else:
        assert connection.vendor in {"sqlite", "postgresql"}


def test_redis_broker_answers():
    url = os.environ.get("REDIS_URL", "")
    require_component(bool(url), "Redis (set REDIS_URL)")
    import redis

    assert redis.Redis.from_url(url, socket_connect_timeout=3).ping() is True
    assert url == settings.CELERY_BROKER_URL


def test_chromium_is_installed():
    require_component(shutil.which(CHROMIUM) is not None, f"Chromium at {CHROMIUM}")


def test_celery_is_eager_without_a_broker():
    from trial.celery import app

    if not os.environ.get("REDIS_URL"):
        assert settings.CELERY_TASK_ALWAYS_EAGER is True
        assert app.conf.task_always_eager is True


@pytest.mark.django_db
def test_healthz_needs_no_login():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"
