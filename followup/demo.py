"""Demo step for follow-up: visits in every state, calls with TICS, adverse events, status.

Runs after randomization (settings.DEMO_STEPS), through the real services, as
the demo nurse, assessor and investigator. Idempotent: it only acts on
participants without contact details yet.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from questionnaires import services as questionnaire_services
from questionnaires.demo import _answers, checked_queries
from questionnaires.scoring import TICS_VERSIONS
from trial.models import Participant

from . import services
from .models import ContactDetails, Visit, VisitStatus


def _at(day, hour=10) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, 0)))


def _call(visit: Visit, *, assessor, rng: random.Random, remained_blind: bool = True) -> None:
    day = visit.target_date
    for key in visit.instruments:
        if key == "tics":
            answers = {
                k: max(0, m - rng.choice([0, 0, 1, 2])) for k, m in TICS_VERSIONS["tics41"].items()
            }
        else:
            answers = _answers(key, rng)
        questionnaire_services.response_record(
            participant=visit.participant,
            visit=visit.code,
            instrument=key,
            answers=answers,
            administration=questionnaire_services.Administration(
                administered_on=day,
                mode="telephone",
                language=visit.participant.language,
                queries_confirmed=checked_queries(key, answers),
            ),
            by=assessor,
        )
    services.interview_record(
        visit=visit,
        started_at=_at(day),
        ended_at=_at(day) + timedelta(minutes=rng.randint(18, 35)),
        disrupted=rng.random() < 0.1,
        disruption_note="Line dropped once" if rng.random() < 0.1 else "",
        remained_blind=remained_blind,
        unblinding_note=""
        if remained_blind
        else "Participant mentioned tingling she read about as a magnesium side effect",
        by=assessor,
    )


def seed_followup(*, today, rng: random.Random) -> str:
    User = get_user_model()
    nurse = User.objects.get(username="nurse")
    assessor = User.objects.get(username="assessor")
    investigator = User.objects.get(username="investigator")
    participants = Participant.objects.filter(
        allocation__isnull=False, contact__isnull=True
    ).order_by("study_id")
    for index, participant in enumerate(participants):
        services.contact_details_save(
            participant=participant,
            data={
                "phone": f"138 0731 {1000 + index:04d}",
                "alternative_phone": "",
                "best_time": rng.choice(["Evenings", "After 14:00", ""]),
            },
            by=nurse,
        )
        for visit in participant.visits.order_by("target_date"):
            participant.refresh_from_db()
            if participant.status != "on_study" or visit.status not in (
                VisitStatus.OVERDUE,
                VisitStatus.DUE,
            ):
                continue
            if visit.status == VisitStatus.DUE:
                if rng.random() < 0.5:
                    services.contact_attempt_record(
                        visit=visit,
                        attempted_at=_at(max(visit.window_opens, today - timedelta(1))),
                        outcome="no_answer",
                        by=assessor,
                    )
                continue
            roll = rng.random()
            if index == 7 and visit.code == "m1":
                for hour in (9, 13, 17):
                    services.contact_attempt_record(
                        visit=visit,
                        attempted_at=_at(visit.target_date, hour),
                        outcome="no_answer",
                        by=assessor,
                    )
                services.visit_mark_missed(
                    visit=visit, reason="Three calls unanswered in the window", by=nurse
                )
            elif roll < 0.85:
                _call(
                    visit,
                    assessor=assessor,
                    rng=rng,
                    remained_blind=not (index == 4 and visit.code == "m3"),
                )
                visit.refresh_from_db()
                if visit.code == "m3":
                    services.adherence_record(
                        participant=participant,
                        counted_on=visit.target_date,
                        cachets_returned=rng.choice([0, 12, 20, 36, 60, 132]),
                        by=nurse,
                    )
                if visit.code == "m6" and visit.status in (
                    VisitStatus.DONE,
                    VisitStatus.DONE_OUT_OF_WINDOW,
                ):
                    services.status_change(
                        participant=participant,
                        kind="completed",
                        effective_date=visit.done_on,
                        by=nurse,
                    )
            # else: left overdue, for the worklist
            if index == 5 and visit.code == "m1":
                services.status_change(
                    participant=participant,
                    kind="withdrawn",
                    effective_date=visit.window_closes,
                    reason="Did not want more phone calls",
                    decided_by="participant",
                    data_may_be_used=True,
                    by=nurse,
                )
            if index == 9 and visit.code == "m1":
                services.status_change(
                    participant=participant,
                    kind="lost_to_follow_up",
                    effective_date=visit.window_closes,
                    reason="Moved; number no longer in use",
                    by=nurse,
                )
        if index == 11 and participant.status == "on_study":
            services.status_change(
                participant=participant,
                kind="excluded",
                effective_date=participant.baseline.procedure_date + timedelta(days=10),
                reason="Postoperative wound infection",
                by=investigator,
            )
        if index in (1, 3, 6, 10, 14):
            onset = min(today, participant.baseline.procedure_date + timedelta(days=20 + index))
            services.adverse_event_record(
                participant=participant,
                data={
                    "term": ["Nausea", "Headache", "Diarrhoea", "Dizziness", "Rash"][index % 5],
                    "onset_date": onset,
                    "end_date": None,
                    "severity": rng.choice(["mild", "moderate"]),
                    "serious": False,
                    "sae_criteria": [],
                    "relatedness": rng.choice(["unlikely", "possible"]),
                    "action_taken": "none",
                    "outcome": "recovering",
                },
                by=nurse,
            )
        if index == 2:
            onset = min(today, participant.baseline.procedure_date + timedelta(days=40))
            services.adverse_event_record(
                participant=participant,
                data={
                    "term": "Pneumonia",
                    "onset_date": onset,
                    "end_date": None,
                    "severity": "severe",
                    "serious": True,
                    "sae_criteria": ["hospitalisation"],
                    "relatedness": "unlikely",
                    "action_taken": "interrupted",
                    "outcome": "recovering",
                },
                by=nurse,
            )
    counts = {}
    for status in Visit.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return (
        "visits: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + (f"; {ContactDetails.objects.count()} with contact details")
    )
