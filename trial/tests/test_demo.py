"""seed_demo: the demo users and trial of contracts.md §5, idempotent."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from trial.models import AuditEvent, Baseline, Participant, Screening

pytestmark = pytest.mark.django_db

DEMO_USERS = {
    "nurse": "research_nurse",
    "assessor": "blinded_assessor",
    "investigator": "investigator",
    "statistician": "unblinded_statistician",
    "dsmb": "dsmb",
    "datamanager": "data_manager",
}


def test_seed_demo_users_only():
    call_command("seed_demo", "--participants", "0", "--password", "pw-for-the-demo-1")
    User = get_user_model()
    for username, role in DEMO_USERS.items():
        user = User.objects.get(username=username)
        assert list(user.groups.values_list("name", flat=True)) == [role]
    assert Screening.objects.count() == 0
    assert User.objects.get(username="nurse").check_password("pw-for-the-demo-1")


def test_seed_demo_twice_duplicates_nothing():
    call_command("seed_demo", "--participants", "8", "--password", "pw-for-the-demo-1")
    counts = (
        get_user_model().objects.count(),
        Screening.objects.count(),
        Participant.objects.count(),
        Baseline.objects.count(),
        AuditEvent.objects.count(),
    )
    call_command("seed_demo", "--participants", "8", "--password", "pw-for-the-demo-1")
    assert counts == (
        get_user_model().objects.count(),
        Screening.objects.count(),
        Participant.objects.count(),
        Baseline.objects.count(),
        AuditEvent.objects.count(),
    )
    assert Participant.objects.count() == 8
    # A believable screening log: ineligible for several reasons, declined, consented.
    assert Screening.objects.filter(eligible=False).count() > 0
    assert Screening.objects.filter(consent_status="declined").count() > 0
    reasons = {c for s in Screening.objects.filter(eligible=False) for c in s.failed_criteria}
    assert len(reasons) >= 4
    # Some baseline forms are still to be entered, the rest are done.
    assert 0 < Baseline.objects.count() < Participant.objects.count()
    # A sealed, active list, and everyone with a baseline randomized through it.
    from randomization.models import Allocation, RandomizationList

    assert RandomizationList.objects.filter(status="active").count() == 1
    assert Allocation.objects.count() == Baseline.objects.count()
    assert Allocation.objects.filter(slot__isnull=True).count() == 0
