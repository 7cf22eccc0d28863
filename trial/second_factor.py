"""Write layer of a person's own second factor: enrolling a TOTP authenticator and
confirming a code from it.

Kept apart from ``trial.services`` (the participant core's writes) because it is a
person acting on their own account, and in ``trial`` rather than ``people.services``
because the two-factor page is the participant core's (``trial.views``), which
imports no later app; ``people.services`` is the managers' side (resetting someone
else's second factor). ``people.signals`` audits every device change either way.

Each function runs in one transaction under the person's row lock, so two tabs
enrolling at once make one authenticator, not two.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import services
from .locks import lock_one

CODE_NOT_VALID = _("That code is not valid. Check the time on your phone and try again.")
DEVICE_NAME = "authenticator"


@dataclass(frozen=True)
class SecondFactor:
    device: TOTPDevice
    # True while the authenticator is not confirmed yet: the page shows its QR code.
    enrolling: bool


def _require_person(user) -> None:
    if not (user is not None and user.is_authenticated and user.is_active):
        raise PermissionDenied


def _current(user) -> SecondFactor:
    """The person's confirmed authenticator, else the one being enrolled (made
    unconfirmed the first time). Inside the caller's transaction and lock."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        return SecondFactor(device=device, enrolling=False)
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return SecondFactor(device=device, enrolling=True)


def second_factor_enrolment(*, user) -> SecondFactor:
    """The authenticator the two-factor page asks a code from; a person without one
    gets a new, unconfirmed authenticator to scan."""
    _require_person(user)
    with transaction.atomic():
        lock_one(get_user_model().objects.filter(pk=user.pk))
        return _current(user)


def second_factor_verify(*, user, token: str) -> SecondFactor:
    """Check a code from the person's authenticator; the first good code confirms an
    enrolment. Each use is recorded in the audit trail.

    A wrong code raises ``ValidationError`` (``token``) only after the transaction has
    committed: the device's failure count, which throttles the next try, must be kept.
    """
    _require_person(user)
    with transaction.atomic():
        lock_one(get_user_model().objects.filter(pk=user.pk))
        factor = _current(user)
        verified = token.isdigit() and factor.device.verify_token(token)
        if verified:
            if factor.enrolling:
                factor.device.confirmed = True
                factor.device.save(update_fields=["confirmed"])
            services.second_factor_record(user=user, enrolled=factor.enrolling)
    if not verified:
        raise ValidationError({"token": [CODE_NOT_VALID]})
    return factor
