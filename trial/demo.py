"""A believable demo trial, built through the real services (contracts.md §5).

Used by ``manage.py seed_demo`` and by the browser tests. Running it again
changes nothing that exists: users are updated in place and the clinical demo
data is only created when the demo site has no screenings yet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from . import services
from .eligibility import ANSWERED_CRITERIA
from .models import ChemoRegimen, ConsentFormVersion, Screening, Site, UserProfile
from .roles import (
    BLINDED_ASSESSOR,
    DATA_MANAGER,
    DSMB,
    INVESTIGATOR,
    RESEARCH_NURSE,
    UNBLINDED_ROLES,
    UNBLINDED_STATISTICIAN,
    roles_sync,
)

DEMO_SITE_CODE = "changsha"

# username -> (role, first name, last name, all sites?, staff?)
DEMO_USERS = {
    "nurse": (RESEARCH_NURSE, "Li", "Na", False, False),
    "assessor": (BLINDED_ASSESSOR, "Wang", "Fang", False, False),
    "investigator": (INVESTIGATOR, "Zhang", "Wei", False, False),
    "statistician": (UNBLINDED_STATISTICIAN, "Chen", "Jing", True, False),
    "dsmb": (DSMB, "Liu", "Yang", True, False),
    "datamanager": (DATA_MANAGER, "Zhao", "Min", True, True),
}

INITIALS = ["LX", "WF", "ZY", "CH", "LJ", "YM", "HQ", "ZL", "SX", "GW", "HY", "XL", "MD", "TF"]


@dataclass
class DemoSummary:
    users: int
    screened: int
    participants: int
    steps: list[str]


def demo_users(*, password: str) -> list:
    """Create or update the six demo users, one per role, all at the demo site."""
    roles_sync()
    site, _created = Site.objects.get_or_create(
        code=DEMO_SITE_CODE,
        defaults={"name": "Changsha (demo site)", "study_id_prefix": "MLT"},
    )
    User = get_user_model()
    users = []
    for username, (role, first, last, all_sites, staff) in DEMO_USERS.items():
        user, _created = User.objects.get_or_create(username=username)
        user.first_name, user.last_name = first, last
        user.email = f"{username}@example.org"
        user.is_staff = staff
        if not user.check_password(password):
            # Only when it differs: a new hash of the same password is a change the
            # audit trail would record on every run.
            user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        profile, _created = UserProfile.objects.get_or_create(user=user)
        profile.all_sites = all_sites
        profile.save()
        profile.sites.add(site)
        users.append(user)
        if role in UNBLINDED_ROLES:
            _demo_authenticator(user)
    return users


# A fixed authenticator key for the demo's unblinded users, so the demo can be
# walked without a phone: `manage.py totp_code dsmb` prints the current code
# (DEBUG only). Real users enrol their own authenticator with a QR code. The key
# is published here, so with DEBUG off nobody gets it (and whoever already holds
# it loses it); the system check trial.E001 fails while any device has it.
DEMO_TOTP_KEY = "3132333435363738393031323334353637383930"
DEMO_AUTHENTICATOR = "demo authenticator"
NO_DEMO_AUTHENTICATOR = (
    "DEBUG is off: the statistician and DSMB demo users get no demo authenticator; "
    "each enrols their own authenticator app (QR code) at their first log-in."
)


def _demo_authenticator(user) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not settings.DEBUG:
        # Deleted one by one, so each removal is audited (people.signals).
        for device in TOTPDevice.objects.filter(user=user, key__iexact=DEMO_TOTP_KEY):
            device.delete()
        return
    TOTPDevice.objects.get_or_create(
        user=user, name=DEMO_AUTHENTICATOR, defaults={"key": DEMO_TOTP_KEY, "confirmed": True}
    )


def _demo_consent_forms() -> list[ConsentFormVersion]:
    v1, _ = ConsentFormVersion.objects.get_or_create(
        version="1.0", defaults={"approved_on": date(2019, 5, 20), "active": False}
    )
    v2, _ = ConsentFormVersion.objects.get_or_create(
        version="1.1", defaults={"approved_on": date(2019, 6, 10), "active": True}
    )
    return [v1, v2]


@transaction.atomic
def seed_demo(*, password: str, participants: int = 40, today: date | None = None) -> DemoSummary:
    users = demo_users(password=password)
    notes = [] if settings.DEBUG else [NO_DEMO_AUTHENTICATOR]
    if participants <= 0:
        return DemoSummary(users=len(users), screened=0, participants=0, steps=notes)
    today = today or timezone.localdate()
    site = Site.objects.get(code=DEMO_SITE_CODE)
    if not Screening.objects.filter(site=site).exists():
        _seed_screening(site=site, participants=participants, today=today)
    # Later apps add their own demo steps (settings.DEMO_STEPS), so this
    # module never imports them; each step is idempotent.
    rng = random.Random(2019)  # noqa: S311 - demo values, not security
    steps = notes + [import_string(path)(today=today, rng=rng) for path in settings.DEMO_STEPS]
    return DemoSummary(
        users=len(users),
        screened=Screening.objects.filter(site=site).count(),
        participants=site.participants.count(),
        steps=steps,
    )


def _seed_screening(*, site: Site, participants: int, today: date) -> None:
    _versions = _demo_consent_forms()
    version = ConsentFormVersion.objects.get(version="1.1")
    nurse = get_user_model().objects.get(username="nurse")
    rng = random.Random(19076)  # noqa: S311 - demo values, not security

    enrolled = 0
    # Roughly the trial's proportions: about a third of screened patients
    # enrol; the rest fail a criterion or decline.
    total_screenings = max(participants * 3 + 6, 12)
    start = today - timedelta(days=240)
    for index in range(total_screenings):
        screening_date = start + timedelta(days=(index * 230) // total_screenings)
        answers = {key: False for key in ANSWERED_CRITERIA}
        age = rng.randint(28, 68)
        want_participant = enrolled < participants and index % 3 == 0
        if not want_participant:
            reason = index % 11
            if reason == 1:
                age = rng.choice([16, 17, 71, 75])
            elif 2 <= reason <= 8:
                answers[ANSWERED_CRITERIA[reason - 2]] = True
        birth = screening_date - timedelta(days=age * 365 + rng.randint(10, 300))
        data = services.ScreeningInput(
            screening_date=screening_date,
            initials=rng.choice(INITIALS),
            hospital_number=f"H{2019000 + index:07d}",
            date_of_birth=birth,
            sex="female",
            confirmed_diagnosis=True,
            scheduled_procedure_date=screening_date + timedelta(days=rng.randint(1, 7)),
            answers=answers,
            evidence_dates={},
        )
        screening = services.screening_record(site=site, data=data, by=nurse)

        if not screening.eligible:
            continue
        if not want_participant:
            if index % 2:
                services.screening_decline(
                    screening=screening,
                    declined_on=screening_date,
                    reason=rng.choice(
                        ["Does not want to take extra medication", "Lives far from the hospital"]
                    ),
                    by=nurse,
                )
            continue
        participant = services.participant_consent(
            screening=screening,
            consent_date=screening_date,
            form_version=version,
            signed_form_filed=True,
            by=nurse,
            # Most answer the questionnaires in Chinese; a few in English.
            language="en" if enrolled % 5 == 4 else "zh-hans",
        )
        enrolled += 1
        # The most recent few are still waiting for their baseline form.
        if enrolled > participants - 3:
            continue
        height = Decimal(rng.randint(150, 172))
        weight = Decimal(rng.randint(45, 80))
        comorbid = rng.random() < 0.3
        services.baseline_save(
            participant=participant,
            data={
                "height_cm": height,
                "weight_kg": weight,
                "comorbidity": comorbid,
                "comorbidity_list": "Hypertension" if comorbid else "",
                "surgical_site": rng.choice(["left", "right"]),
                "preop_vas_mm": rng.choice([0, 0, 0, 10, 20, 35, 50]),
                "procedure_type": rng.choice(["mastectomy", "mastectomy", "lumpectomy"]),
                "procedure_date": screening.scheduled_procedure_date,
                "chemo_regimen": rng.choice(ChemoRegimen.values),
                "radiotherapy": rng.random() < 0.5,
                "hormone_therapy": rng.random() < 0.6,
                "targeted_therapy": rng.random() < 0.2,
            },
            by=nurse,
        )
