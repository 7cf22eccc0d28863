"""Shared test fixtures: factories, one user per role, and the real-component guards.

In CI (``CI=true``) a missing PostgreSQL, Redis or Chromium fails the run; on a
developer's machine the tests that need one are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from decimal import Decimal

import factory
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TEST_PASSWORD = "correct-horse-battery-staple-42"
TEST_RANDOMIZATION_KEY = "kZm3R2mQ3yq1mZ8b2f2m2yQ3b9k2r8r0m6t5w4u3v2s="
TEST_AUDIT_KEY = "test-audit-key-not-secret-0123456789abcdef"


def pytest_configure(config):
    # Keys outside the database, for the whole run: the test database is built, and
    # its roles' permissions audited, before any fixture runs. Tests that need other
    # keys override the settings.
    from django.conf import settings

    settings.RANDOMIZATION_KEYS = [TEST_RANDOMIZATION_KEY]
    settings.AUDIT_KEYS = [TEST_AUDIT_KEY]


# Playwright's sync API runs an event loop in the test thread; Django's guard
# against ORM calls from async contexts would otherwise refuse the live server.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def require_component(available: bool, what: str) -> None:
    """Skip locally, fail in CI, when a real component is missing."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but is not available")
    pytest.skip(f"{what} not available")


@pytest.fixture
def require_postgres():
    require_component(connection.vendor == "postgresql", "PostgreSQL (set DATABASE_URL)")


# --- factories ---------------------------------------------------------------------------


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "trial.Site"
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"site{n}")
    name = factory.LazyAttribute(lambda o: f"Hospital {o.code}")
    study_id_prefix = factory.Sequence(lambda n: "MLT" if n == 0 else f"S{n}")


class ConsentFormVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "trial.ConsentFormVersion"
        django_get_or_create = ("version",)

    version = "1.1"
    approved_on = date(2019, 6, 10)
    active = True


def make_user(username: str, role: str | None, sites=(), all_sites: bool = False, **extra):
    from trial.models import UserProfile

    User = get_user_model()
    user = User.objects.create_user(username=username, password=TEST_PASSWORD, **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    profile = UserProfile.objects.create(user=user, all_sites=all_sites)
    profile.sites.set(sites)
    return user


@pytest.fixture
def site(db):
    return SiteFactory(code="changsha", name="Changsha", study_id_prefix="MLT")


@pytest.fixture
def other_site(db):
    return SiteFactory(code="wuhan", name="Wuhan", study_id_prefix="WH")


@pytest.fixture
def consent_form(db):
    return ConsentFormVersionFactory()


@pytest.fixture
def nurse(site):
    return make_user("nurse", "research_nurse", sites=[site], first_name="Li", last_name="Na")


@pytest.fixture
def assessor(site):
    return make_user("assessor", "blinded_assessor", sites=[site])


@pytest.fixture
def investigator(site):
    return make_user("investigator", "investigator", sites=[site])


@pytest.fixture
def statistician(site):
    return make_user("statistician", "unblinded_statistician", all_sites=True)


@pytest.fixture
def dsmb(site):
    return make_user("dsmb", "dsmb", all_sites=True)


@pytest.fixture
def datamanager(site):
    return make_user("datamanager", "data_manager", all_sites=True, is_staff=True)


@pytest.fixture
def role_users(nurse, assessor, investigator, statistician, dsmb, datamanager):
    return {
        "research_nurse": nurse,
        "blinded_assessor": assessor,
        "investigator": investigator,
        "unblinded_statistician": statistician,
        "dsmb": dsmb,
        "data_manager": datamanager,
    }


def screening_input(**overrides):
    from trial.eligibility import ANSWERED_CRITERIA
    from trial.services import ScreeningInput

    today = timezone.localdate()
    values = {
        "screening_date": today - timedelta(days=2),
        "initials": "LX",
        "hospital_number": "H0001",
        "date_of_birth": date(today.year - 50, 3, 14),
        "sex": "female",
        "confirmed_diagnosis": True,
        "scheduled_procedure_date": today + timedelta(days=3),
        "answers": {key: False for key in ANSWERED_CRITERIA},
        "evidence_dates": {},
    }
    values.update(overrides)
    return ScreeningInput(**values)


@pytest.fixture
def make_screening(site, nurse):
    from trial.services import screening_record

    counter = {"n": 0}

    def _make(**overrides):
        counter["n"] += 1
        overrides.setdefault("hospital_number", f"H{counter['n']:05d}")
        return screening_record(site=site, data=screening_input(**overrides), by=nurse)

    return _make


@pytest.fixture
def make_participant(make_screening, consent_form, nurse):
    from trial.services import participant_consent

    def _make(**overrides):
        screening = make_screening(**overrides)
        return participant_consent(
            screening=screening,
            consent_date=screening.screening_date,
            form_version=consent_form,
            signed_form_filed=True,
            by=nurse,
        )

    return _make


def bulk_participants(site, nurse, consent_form, *, prefix: str, start: int, count: int):
    """Consented participants inserted directly (fast, no history): for tests that
    need hundreds of rows, e.g. to show a page's query count does not grow."""
    from trial.eligibility import ANSWERED_CRITERIA, EXCLUSION_CRITERIA
    from trial.models import Participant, Screening

    today = timezone.localdate()
    screenings = Screening.objects.bulk_create(
        [
            Screening(
                screening_id=f"{prefix}-S{start + i:06d}",
                site=site,
                screening_date=today,
                initials="ZZ",
                hospital_number=f"{prefix}{start + i:06d}",
                date_of_birth=today - timedelta(days=365 * 40),
                sex="female",
                confirmed_diagnosis=True,
                scheduled_procedure_date=today,
                age_at_screening=40,
                eligible=True,
                consent_status="consented",
                screened_by=nurse,
                **dict.fromkeys(EXCLUSION_CRITERIA, False),
                **{f"{key}_date": today for key in ANSWERED_CRITERIA},
            )
            for i in range(count)
        ]
    )
    return Participant.objects.bulk_create(
        [
            Participant(
                study_id=f"{prefix}-{start + i:06d}",
                site=site,
                screening=screening,
                consent_date=today,
                consent_form_version=consent_form,
                consent_taken_by=nurse,
                signed_form_filed=True,
                status_date=today,
            )
            for i, screening in enumerate(screenings)
        ]
    )


def baseline_data(**overrides):
    values = {
        "height_cm": Decimal("160.0"),
        "weight_kg": Decimal("60.0"),
        "comorbidity": False,
        "comorbidity_list": "",
        "surgical_site": "left",
        "preop_vas_mm": 20,
        "procedure_type": "mastectomy",
        "procedure_date": timezone.localdate(),
        "chemo_regimen": "C+A",
        "radiotherapy": True,
        "hormone_therapy": False,
        "targeted_therapy": False,
    }
    values.update(overrides)
    return values


# --- browser -----------------------------------------------------------------------------


@pytest.fixture
def browser():
    require_component(shutil.which(CHROMIUM) is not None, f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def login(page, username: str, password: str = TEST_PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    # Tasks run in the test's own thread unless a test starts a real worker
    # (the real-broker tests in CI); otherwise with REDIS_URL set they would
    # be queued to Redis with nobody to run them.
    from trial.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


@pytest.fixture(autouse=True)
def _default_language_and_zone():
    # Each request activates its user's language and site zone, and Django leaves them
    # active on the thread afterwards (the next request sets its own). Tests share the
    # thread, so each starts from the defaults rather than the last test's Chinese user.
    from django.utils import timezone as django_timezone
    from django.utils import translation

    translation.deactivate()
    django_timezone.deactivate()
    yield


@pytest.fixture(autouse=True)
def _fast_tests(settings):
    # Password hashing is deliberately slow; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.RANDOMIZATION_KEYS = [TEST_RANDOMIZATION_KEY]
    settings.AUDIT_KEYS = [TEST_AUDIT_KEY]
    # A developer's own anchors (manage.py audit_anchor) are not this test database's.
    settings.AUDIT_ANCHOR_DIR = ""
    # The second factor has its own tests (trial/tests/test_hardening.py); elsewhere
    # unblinded users are taken as verified so each test asserts its own subject.
    settings.TWO_FACTOR_ENFORCED = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def make_ready_participant(make_participant, nurse):
    """A consented participant with a complete baseline form: ready to randomize."""
    from trial.services import baseline_save

    def _make(**overrides):
        participant = make_participant(**overrides)
        baseline_save(participant=participant, data=baseline_data(), by=nurse)
        return participant

    return _make


@pytest.fixture
def active_list(statistician):
    """An active 1:1 list, block size 4, 40 slots, with a fixed seed."""
    from randomization import services

    rlist = services.list_create(
        spec=services.ListSpec(
            name="Test list",
            template="plan",
            arms=["MLT", "PLACEBO"],
            ratio=[1, 1],
            block_sizes=[4],
            n_slots=40,
            seed=27371,
        ),
        by=statistician,
    )
    return services.list_activate(rlist=rlist, by=statistician)
