"""The real components: PostgreSQL, Redis and Chromium in CI; the settings switches."""

import os
import shutil
import threading

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
    else:
        # With a broker the site queues tasks for the worker (the test session makes
        # app.conf eager itself, see conftest._celery_eager; the settings are not).
        assert settings.CELERY_TASK_ALWAYS_EAGER is False
        assert os.environ["REDIS_URL"] == settings.CELERY_BROKER_URL
        assert os.environ["REDIS_URL"] == settings.CELERY_RESULT_BACKEND


def test_a_task_travels_through_redis_and_back():
    url = os.environ.get("REDIS_URL", "")
    require_component(bool(url), "Redis (set REDIS_URL)")
    from celery.contrib.testing.worker import start_worker
    from celery.result import EagerResult

    from trial.celery import app

    @app.task(bind=True, name="trial.tests.test_infrastructure.where_it_ran")
    def where_it_ran(self, number):
        return {
            "double": number * 2,
            "eager": bool(self.request.is_eager),
            "thread": threading.get_ident(),
            "queue": (self.request.delivery_info or {}).get("routing_key"),
        }

    assert app.conf.broker_url == url
    app.conf.task_always_eager = False
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            result = where_it_ran.delay(21)
            assert not isinstance(result, EagerResult)  # queued, not run in this thread
            answer = result.get(timeout=30)
    finally:
        app.conf.task_always_eager = True
    # Run by the worker's own thread, delivered from the broker's default queue.
    assert answer.pop("thread") != threading.get_ident()
    assert answer == {"double": 42, "eager": False, "queue": "celery"}
    assert result.state == "SUCCESS"


@pytest.mark.django_db
def test_healthz_needs_no_login():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.django_db
def test_no_benchmark_endpoint_in_the_site():
    """The benchmark's floors (one an unauthenticated write) live in bench.urls,
    served only under bench.settings, never in the site's URL configuration."""
    from django.urls import Resolver404, resolve

    for path in ("/bench/floor/", "/bench/floor-insert/"):
        with pytest.raises(Resolver404):
            resolve(path)
        assert Client().post(path).status_code in {302, 404}


@pytest.mark.django_db
def test_the_benchmark_settings_serve_the_floors(settings):
    settings.ROOT_URLCONF = "bench.urls"
    assert Client().get("/bench/floor/").status_code == 200
    assert Client().post("/bench/floor-insert/").status_code == 200
