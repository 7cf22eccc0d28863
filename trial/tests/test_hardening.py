"""Hardening: two-factor authentication, rate limits, content security policy."""

import pytest
from django.test import override_settings
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import TEST_PASSWORD
from trial.models import AuditEvent

pytestmark = pytest.mark.django_db


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.fixture(autouse=True)
def _enforce(settings):
    settings.TWO_FACTOR_ENFORCED = True


@pytest.mark.parametrize("username", ["statistician", "dsmb"])
def test_unblinded_roles_must_enrol_and_verify(client, role_users, username):
    user = next(u for u in role_users.values() if u.username == username)
    client.post(reverse("login"), {"username": username, "password": TEST_PASSWORD})
    response = client.get(reverse("list_fingerprints"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor"))
    page = client.get(response["Location"])
    assert b'data-testid="totp-qr"' in page.content and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed
    bad = client.post(reverse("two_factor"), {"token": "000000", "next": "/"})
    assert "not valid" in bad.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # a failure throttles the next try; the test need not wait
    good = client.post(reverse("two_factor"), {"token": code_for(device), "next": "/"})
    assert good.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(reverse("list_fingerprints")).status_code == 200
    assert AuditEvent.objects.filter(summary="Authenticator enrolled", user=user).exists()


def test_blinded_roles_need_no_second_factor(client, nurse):
    client.post(reverse("login"), {"username": "nurse", "password": TEST_PASSWORD})
    assert client.get(reverse("participant_list")).status_code == 200


def test_code_break_requires_second_factor(
    client, investigator, nurse, active_list, make_ready_participant
):
    from randomization import services

    participant = make_ready_participant()
    services.allocation_assign(participant=participant, by=nurse)
    client.post(reverse("login"), {"username": "investigator", "password": TEST_PASSWORD})
    assert client.get(reverse("participant_list")).status_code == 200  # no 2FA for browsing
    response = client.get(reverse("code_break", args=[participant.study_id]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor"))


@override_settings(LOGIN_RATE="3/m")
def test_login_is_rate_limited(client, nurse):
    for _ in range(3):
        client.post(reverse("login"), {"username": "nobody", "password": "x"})
    response = client.post(reverse("login"), {"username": "nobody", "password": "x"})
    assert response.status_code == 429


@override_settings(RANDOMIZE_RATE="2/m")
def test_randomization_is_rate_limited(client, nurse, make_participant):
    client.force_login(nurse)
    participant = make_participant()
    url = reverse("randomize", args=[participant.study_id])
    codes = [client.post(url, {}).status_code for _ in range(3)]
    assert codes[-1] == 429


def test_content_security_policy_forbids_inline_scripts(client, nurse):
    client.force_login(nurse)
    response = client.get(reverse("home"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    assert "<script>" not in response.content.decode()  # no inline scripts to break it


class TestSecondFactorByPermission:
    """Required by what a person may do, not by the name of their group."""

    def test_view_arm_held_directly_requires_it(self, client, site):
        from django.contrib.auth.models import Permission

        from conftest import make_user

        user = make_user("odd", "research_nurse", sites=[site])
        user.user_permissions.add(Permission.objects.get(codename="view_arm"))
        client.post(reverse("login"), {"username": "odd", "password": TEST_PASSWORD})
        response = client.get(reverse("participant_list"))
        assert response.status_code == 302 and response["Location"].startswith(
            reverse("two_factor")
        )

    def test_a_role_with_another_name_that_sees_arms_requires_it(self, client, site):
        from django.contrib.auth.models import Group, Permission

        from conftest import make_user

        pharmacy = Group.objects.create(name="pharmacy")
        pharmacy.permissions.add(Permission.objects.get(codename="manage_lists"))
        make_user("pharmacist", "pharmacy", all_sites=True)
        client.post(reverse("login"), {"username": "pharmacist", "password": TEST_PASSWORD})
        response = client.get(reverse("list_fingerprints"))
        assert response["Location"].startswith(reverse("two_factor"))

    def test_superusers_require_it(self, client, site):
        from conftest import make_user

        make_user("root", None, is_superuser=True, is_staff=True)
        client.post(reverse("login"), {"username": "root", "password": TEST_PASSWORD})
        for page in (reverse("home"), reverse("admin:index")):
            response = client.get(page)
            assert response.status_code == 302, page
            assert response["Location"].startswith(reverse("two_factor")), page
