"""The demo's published TOTP key: only ever with DEBUG on, never in production."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from trial import checks
from trial.demo import DEMO_TOTP_KEY, NO_DEMO_AUTHENTICATOR
from trial.models import AuditEvent

pytestmark = pytest.mark.django_db

UNBLINDED_DEMO_USERS = ["dsmb", "statistician"]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--participants", "0", "--password", "pw-for-the-demo-1", stdout=out)
    return out.getvalue()


def demo_key_holders() -> list[str]:
    return sorted(
        TOTPDevice.objects.filter(key__iexact=DEMO_TOTP_KEY).values_list(
            "user__username", flat=True
        )
    )


def test_with_debug_the_unblinded_demo_users_get_the_demo_authenticator(settings):
    settings.DEBUG = True
    output = seed()
    assert demo_key_holders() == UNBLINDED_DEMO_USERS
    assert NO_DEMO_AUTHENTICATOR not in output
    out = StringIO()
    call_command("totp_code", "dsmb", stdout=out)
    assert out.getvalue().strip().isdigit()


def test_without_debug_nobody_gets_the_published_key(settings):
    settings.DEBUG = False
    output = seed()
    assert demo_key_holders() == []
    assert TOTPDevice.objects.count() == 0
    # The unblinded demo users are told to enrol an authenticator of their own.
    assert NO_DEMO_AUTHENTICATOR in output
    assert checks.check_no_demo_authenticator(databases=["default"]) == []


def test_without_debug_seed_demo_takes_the_published_key_back(settings):
    settings.DEBUG = True
    seed()
    assert demo_key_holders() == UNBLINDED_DEMO_USERS
    settings.DEBUG = False
    assert [e.id for e in checks.check_no_demo_authenticator(databases=["default"])] == [
        "trial.E001"
    ]
    seed()
    assert demo_key_holders() == []
    assert checks.check_no_demo_authenticator(databases=["default"]) == []
    # Each removal is in the audit trail like any other.
    assert sorted(
        AuditEvent.objects.filter(summary__startswith="Second factor removed").values_list(
            "summary", flat=True
        )
    ) == ["Second factor removed: dsmb", "Second factor removed: statistician"]


def test_totp_code_refuses_without_debug(settings):
    settings.DEBUG = True
    seed()
    settings.DEBUG = False
    with pytest.raises(CommandError, match="Only for the local demo"):
        call_command("totp_code", "dsmb")
