"""A person's own second factor: enrolment and confirmation in ``trial.second_factor``."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from trial import second_factor
from trial.models import AuditEvent

pytestmark = pytest.mark.django_db


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_enrolment_makes_one_unconfirmed_authenticator(statistician):
    first = second_factor.second_factor_enrolment(user=statistician)
    again = second_factor.second_factor_enrolment(user=statistician)
    assert first.enrolling and again.enrolling
    assert first.device.pk == again.device.pk
    assert TOTPDevice.objects.filter(user=statistician).count() == 1
    assert not first.device.confirmed


def test_the_first_good_code_confirms_the_enrolment_and_is_recorded(statistician):
    device = second_factor.second_factor_enrolment(user=statistician).device
    factor = second_factor.second_factor_verify(user=statistician, token=code_for(device))
    assert factor.enrolling and factor.device.pk == device.pk
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEvent.objects.filter(summary="Authenticator enrolled", user=statistician).exists()
    assert not second_factor.second_factor_enrolment(user=statistician).enrolling


def test_a_confirmed_authenticator_is_verified_not_enrolled_again(statistician):
    device = TOTPDevice.objects.create(user=statistician, name="authenticator", confirmed=True)
    factor = second_factor.second_factor_verify(user=statistician, token=code_for(device))
    assert not factor.enrolling and factor.device.pk == device.pk
    assert AuditEvent.objects.filter(summary="Second factor verified", user=statistician).exists()
    assert TOTPDevice.objects.filter(user=statistician).count() == 1


@pytest.mark.parametrize("token", ["000000", "abc123", ""])
def test_a_wrong_code_is_refused_and_its_failure_kept(statistician, token):
    device = second_factor.second_factor_enrolment(user=statistician).device
    if token == "000000" and code_for(device) == token:
        token = "000001"
    with pytest.raises(ValidationError) as excinfo:
        second_factor.second_factor_verify(user=statistician, token=token)
    assert excinfo.value.message_dict == {"token": [str(second_factor.CODE_NOT_VALID)]}
    device.refresh_from_db()
    assert not device.confirmed
    # The refusal is raised after the transaction, so the throttle's count survives it.
    assert device.throttling_failure_count == (1 if token.isdigit() else 0)
    assert not AuditEvent.objects.filter(model="auth.TwoFactor").exists()


def test_only_a_signed_in_active_person_has_a_second_factor(statistician):
    statistician.is_active = False
    for user in (AnonymousUser(), statistician):
        with pytest.raises(PermissionDenied):
            second_factor.second_factor_enrolment(user=user)
        with pytest.raises(PermissionDenied):
            second_factor.second_factor_verify(user=user, token="123456")
    assert not TOTPDevice.objects.exists()


def test_the_page_takes_a_code_typed_in_two_groups(client, statistician, settings):
    settings.TWO_FACTOR_ENFORCED = True
    client.force_login(statistician)
    page = client.get(reverse("two_factor"))
    assert b'data-testid="totp-qr"' in page.content
    device = TOTPDevice.objects.get(user=statistician)
    code = code_for(device)
    response = client.post(reverse("two_factor"), {"token": f" {code[:3]} {code[3:]} "})
    assert response.status_code == 302 and response["Location"] == "/"
    device.refresh_from_db()
    assert device.confirmed


def test_the_page_shows_a_wrong_code_beside_the_field(client, statistician):
    client.force_login(statistician)
    device = second_factor.second_factor_enrolment(user=statistician).device
    wrong = "000001" if code_for(device) == "000000" else "000000"
    body = client.post(reverse("two_factor"), {"token": wrong}).content.decode()
    assert str(second_factor.CODE_NOT_VALID) in body and 'data-testid="totp-qr"' in body
