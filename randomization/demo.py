"""Demo step for randomization: a sealed, active list and randomized demo participants.

Runs after the participant core's demo step (``settings.DEMO_STEPS``) and
goes through the real services, as the demo statistician and nurse.
"""

from __future__ import annotations

import random

from django.contrib.auth import get_user_model

from trial.models import Participant

from . import services
from .models import Allocation, PackCodeStyle, RandomizationList


def seed_randomization(*, today, rng: random.Random) -> str:
    User = get_user_model()
    statistician = User.objects.get(username="statistician")
    nurse = User.objects.get(username="nurse")
    if not RandomizationList.objects.exists():
        # As the list-creation page recommends: random block sizes and random pack
        # codes, so that neither block boundaries nor list order can be read off a pack.
        rlist = services.list_create(
            spec=services.ListSpec(
                name="MLT main list",
                template="random_blocks",
                arms=["MLT", "PLACEBO"],
                ratio=[1, 1],
                block_sizes=[2, 4, 6],
                n_slots=120,
                pack_code_style=PackCodeStyle.RANDOM,
            ),
            by=statistician,
        )
        services.list_activate(rlist=rlist, by=statistician)
    randomized = 0
    # Packs go out in order of procedure date, as in the trial.
    waiting = (
        Participant.objects.filter(baseline__isnull=False, allocation__isnull=True)
        .select_related("baseline")
        .order_by("baseline__procedure_date", "study_id")
    )
    for participant in waiting:
        allocation = services.allocation_assign(participant=participant, by=nurse)
        randomized += 1
        # The service dates randomization today (as a site would), so the
        # demo dispenses today too; a few packs are left to dispense.
        if rng.random() < 0.9:
            services.allocation_dispense(
                allocation=allocation, dispensed_on=allocation.randomized_on, by=nurse
            )
    return f"{Allocation.objects.count()} randomized ({randomized} now)"
