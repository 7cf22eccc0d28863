"""Demo step for questionnaires: baseline questionnaires entered through the real services."""

from __future__ import annotations

import random

from django.contrib.auth import get_user_model

from trial.models import Participant

from . import services
from .models import Response

_RATED = (0, 0, 0, 1, 1, 2)


def _answers(instrument: str, rng: random.Random, *, alert: bool = False) -> dict:
    if instrument == "sf_mpq":
        from .scoring import SF_MPQ_DESCRIPTOR_ITEMS

        answers = {key: rng.choice(_RATED) for key in SF_MPQ_DESCRIPTOR_ITEMS}
        answers.update(sfmpq_vas_mm=rng.choice([0, 5, 10, 20, 35, 50]), sfmpq_ppi=rng.randint(0, 2))
        return answers
    if instrument == "gad7":
        return {f"gad7_{n}": rng.choice(_RATED) for n in range(1, 8)} | {"gad7_difficulty": 0}
    if instrument == "phq9":
        answers = {f"phq9_{n}": rng.choice(_RATED) for n in range(1, 10)}
        answers["phq9_9"] = 1 if alert else 0
        return answers | {"phq9_10": 0}
    bed_hour = rng.choice([21, 22, 23])
    answers = {
        "psqi_1": f"{bed_hour}:{rng.choice(['00', '30'])}",
        "psqi_2": rng.choice([5, 15, 20, 40]),
        "psqi_3": f"0{rng.choice([6, 7])}:00",
        "psqi_4": rng.choice(["6:30", "7:00", "5:45", "8:00"]),
        "psqi_6": rng.randint(0, 2),
        "psqi_7": 0,
        "psqi_8": rng.randint(0, 1),
        "psqi_9": rng.randint(0, 2),
    }
    for letter in "abcdefghi":
        answers[f"psqi_5{letter}"] = rng.choice(_RATED)
    return answers


def checked_queries(instrument: str, answers: dict) -> tuple[str, ...]:
    """The soft queries the demo's answers raise (an 8-hour sleep after a late bed
    time can exceed the time in bed): the demo's staff have checked them with the
    participant, as the services require before storing."""
    return tuple(code for code, _message in services.soft_queries(instrument, answers))


def seed_baseline_questionnaires(*, today, rng: random.Random) -> str:
    nurse = get_user_model().objects.get(username="nurse")
    created = 0
    participants = Participant.objects.filter(baseline__isnull=False).order_by("study_id")
    for index, participant in enumerate(participants):
        for instrument in ("sf_mpq", "gad7", "phq9", "psqi"):
            if Response.objects.filter(
                participant=participant, visit="baseline", instrument=instrument
            ).exists():
                continue
            answers = _answers(instrument, rng, alert=index == 3)
            services.response_record(
                participant=participant,
                visit="baseline",
                instrument=instrument,
                answers=answers,
                administration=services.Administration(
                    administered_on=participant.consent_date,
                    mode="in_person",
                    language=participant.language,
                    queries_confirmed=checked_queries(instrument, answers),
                ),
                by=nurse,
            )
            created += 1
    return f"{Response.objects.count()} questionnaire responses ({created} now)"
