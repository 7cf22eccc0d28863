"""The DSMB report as data: one consistent snapshot of the database, the statistics of
``analysis.stats``, and the CONSORT, safety and conduct figures around them.

``build_report`` is what the dashboard, the PDF reports and ``dsmb_report --json``
show, so all three always agree. It reads arms through ``randomization.unblinded``
(logged); the open report (``pooled=True``) reads none.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import pandas as pd
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from followup.models import Adherence, AdverseEvent, PhoneInterview, StatusEvent, Visit
from questionnaires.models import Response, SafetyAlert
from questionnaires.visits import follow_up_codes, trial_schedule
from randomization.models import Allocation, CodeBreak
from trial.eligibility import EXCLUSION_CRITERIA
from trial.models import Participant, ParticipantStatus, Screening

from . import stats

SCHEMA = "dsmb-report/1"
POOLED = "ALL"

# Where each analysed outcome comes from: (instrument, score key).
OUTCOME_SOURCES = {
    "sf_mpq_total": ("sf_mpq", "total"),
    "sf_mpq_pri_total": ("sf_mpq", "pri_total"),
    "vas_mm": ("sf_mpq", "vas_mm"),
    "ppi": ("sf_mpq", "ppi"),
    "gad7_total": ("gad7", "total"),
    "phq9_total": ("phq9", "total"),
    "psqi_global": ("psqi", "global"),
    "tics_total": ("tics", "total"),
}

Progress = Callable[[int, str], None]


def analysis_design() -> stats.Design:
    """The analysis plan's visits, from the configured schedule (one declaration)."""
    schedule = trial_schedule()
    return stats.Design(
        visits=schedule.codes,
        persistent_pain_visits=schedule.persistent_pain_codes,
        tics_visit=schedule.tics_code,
    )


def _no_progress(percent: int, step: str) -> None:
    return None


@contextmanager
def _snapshot():
    """A transaction in which every read sees the same moment of the database.

    On PostgreSQL a REPEATABLE READ, READ ONLY transaction; SQLite transactions
    already read one snapshot. Inside a caller's transaction the caller's holds.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def analysed_participants():
    """Randomized participants in the analysis: not excluded after randomization, and
    not withdrawn without permission to use their data."""
    refused = StatusEvent.objects.filter(kind="withdrawn", data_may_be_used=False).values(
        "participant"
    )
    return (
        Participant.objects.filter(allocation__isnull=False)
        .exclude(status=ParticipantStatus.EXCLUDED)
        .exclude(pk__in=refused)
    )


def load_frames(arm_of: dict[int, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The participants and long outcomes frames ``analysis.stats`` expects."""
    design = analysis_design()
    people = []
    for participant in analysed_participants().select_related("baseline", "screening"):
        baseline = getattr(participant, "baseline", None)
        people.append(
            {
                "study_id": participant.study_id,
                "arm": arm_of[participant.pk],
                "age": participant.screening.age_at_screening,
                "bmi": float(baseline.bmi) if baseline else None,
                "comorbidity": baseline.comorbidity if baseline else None,
                "surgical_site": baseline.surgical_site if baseline else None,
                "preop_vas_mm": baseline.preop_vas_mm if baseline else None,
                "procedure_type": baseline.procedure_type if baseline else None,
                "chemo_regimen": baseline.chemo_regimen if baseline else None,
                "radiotherapy": baseline.radiotherapy if baseline else None,
                "hormone_therapy": baseline.hormone_therapy if baseline else None,
                "targeted_therapy": baseline.targeted_therapy if baseline else None,
            }
        )
    participants = pd.DataFrame(people, columns=list(stats.PARTICIPANT_COLUMNS))
    ids = {row["study_id"] for row in people}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    responses = Response.objects.filter(participant__in=analysed_participants()).values_list(
        "participant_id", "participant__study_id", "visit", "instrument", "scores"
    )
    wanted = defaultdict(list)
    for outcome, (instrument, key) in OUTCOME_SOURCES.items():
        wanted[instrument].append((outcome, key))
    for participant_id, study_id, visit, instrument, scores in responses.iterator():
        if study_id not in ids or visit not in design.visits:
            continue
        row = rows.setdefault(
            (study_id, visit),
            {"study_id": study_id, "arm": arm_of[participant_id], "visit": visit},
        )
        for outcome, key in wanted.get(instrument, ()):
            row[outcome] = scores.get(key)
    outcomes = pd.DataFrame(
        list(rows.values()),
        columns=[*stats.OUTCOME_ID_COLUMNS, *stats.OUTCOMES, stats.TICS_OUTCOME],
    )
    return participants, outcomes


def frames_sha256(participants: pd.DataFrame, outcomes: pd.DataFrame) -> str:
    """SHA-256 of the exact data the numbers were computed from (canonical CSV)."""
    digest = hashlib.sha256()
    for frame in (participants, outcomes):
        buffer = io.StringIO()
        frame.sort_values(list(frame.columns[:1]) + (["visit"] if "visit" in frame else [])).to_csv(
            buffer, index=False, lineterminator="\n"
        )
        digest.update(buffer.getvalue().encode())
    return digest.hexdigest()


def _by_arm(values: dict[int, Any], arm_of: dict[int, str], arms, pooled: bool) -> dict:
    counts = {arm: 0 for arm in arms}
    for participant_id, n in values.items():
        arm = POOLED if pooled else arm_of.get(participant_id)
        if arm in counts:
            counts[arm] += n
    return counts


def consort(arm_of: dict[int, str], arms, *, pooled: bool) -> dict[str, Any]:
    screenings = Screening.objects.all()
    totals = screenings.aggregate(
        screened=Count("pk"),
        ineligible=Count("pk", filter=Q(eligible=False)),
        consented=Count("pk", filter=Q(consent_status="consented")),
        declined=Count("pk", filter=Q(consent_status="declined")),
        **{key: Count("pk", filter=Q(**{key: True})) for key in EXCLUSION_CRITERIA},
    )
    randomized = dict.fromkeys(Allocation.objects.values_list("participant_id", flat=True), 1)
    status_of = dict(Participant.objects.filter(pk__in=randomized).values_list("pk", "status"))

    def count(status: str) -> dict:
        return _by_arm(
            {pid: 1 for pid, st in status_of.items() if st == status}, arm_of, arms, pooled
        )

    analysed_ids = set(analysed_participants().values_list("pk", flat=True))
    analysed_at = {}
    for visit in analysis_design().visits:
        with_data = set(
            Response.objects.filter(participant__in=analysed_ids, visit=visit)
            .values_list("participant_id", flat=True)
            .distinct()
        )
        analysed_at[visit] = _by_arm(dict.fromkeys(with_data, 1), arm_of, arms, pooled)
    return {
        "screened": totals["screened"],
        "ineligible": totals["ineligible"],
        "ineligible_by_criterion": {key: totals[key] for key in EXCLUSION_CRITERIA},
        "declined": totals["declined"],
        "consented": totals["consented"],
        "randomized": _by_arm(randomized, arm_of, arms, pooled),
        "lost_to_follow_up": count(ParticipantStatus.LOST_TO_FOLLOW_UP),
        "withdrawn": count(ParticipantStatus.WITHDRAWN),
        "excluded": count(ParticipantStatus.EXCLUDED),
        "completed": count(ParticipantStatus.COMPLETED),
        "analysed": _by_arm(dict.fromkeys(analysed_ids, 1), arm_of, arms, pooled),
        "analysed_at_visit": analysed_at,
    }


def safety(arm_of: dict[int, str], arms, *, pooled: bool) -> dict[str, Any]:
    events = list(AdverseEvent.objects.select_related("participant").order_by("onset_date", "pk"))
    summary = {arm: {"events": 0, "participants": 0, "serious": 0} for arm in arms}
    people = defaultdict(set)
    for event in events:
        arm = POOLED if pooled else arm_of.get(event.participant_id)
        if arm not in summary:
            continue
        summary[arm]["events"] += 1
        summary[arm]["serious"] += int(event.serious)
        people[arm].add(event.participant_id)
    for arm in arms:
        summary[arm]["participants"] = len(people[arm])
    sae_listing = [
        {
            "study_id": e.participant.study_id,
            "arm": None if pooled else arm_of.get(e.participant_id),
            "term": e.term,
            "onset_date": e.onset_date.isoformat(),
            "severity": e.severity,
            "criteria": e.sae_criteria,
            "relatedness": e.relatedness,
            "outcome": e.outcome,
            "reviewed": e.reviewed_at is not None,
        }
        for e in events
        if e.serious
    ]
    alerts = SafetyAlert.objects.values_list("participant_id", flat=True)
    withdrawals: dict[str, Counter] = defaultdict(Counter)
    for event in StatusEvent.objects.exclude(kind="completed"):
        arm = POOLED if pooled else arm_of.get(event.participant_id, "?")
        withdrawals[arm][f"{event.kind}: {event.reason or '—'}"] += 1
    adherence: dict[str, list[float]] = defaultdict(list)
    for participant_id, percent in Adherence.objects.values_list("participant_id", "percent_taken"):
        arm = POOLED if pooled else arm_of.get(participant_id)
        adherence[arm].append(float(percent))
    unblinded_calls = PhoneInterview.objects.filter(remained_blind=False).values_list(
        "visit__participant_id", flat=True
    )
    return {
        "adverse_events": summary,
        "sae_listing": sae_listing,
        "phq9_item9_alerts": _by_arm(Counter(alerts), arm_of, arms, pooled),
        "withdrawals_and_exclusions": {arm: dict(c) for arm, c in withdrawals.items()},
        "code_breaks": _by_arm(
            Counter(CodeBreak.objects.values_list("participant_id", flat=True)),
            arm_of,
            arms,
            pooled,
        ),
        "assessor_unblinding": _by_arm(Counter(unblinded_calls), arm_of, arms, pooled),
        "adherence": {
            arm: {
                "n": len(values),
                "mean_percent": round(sum(values) / len(values), 1) if values else None,
            }
            for arm, values in adherence.items()
            if arm in arms
        },
    }


def conduct(target: int) -> dict[str, Any]:
    """Enrolment over time against target, and data completeness per visit (never by arm)."""
    by_month = Counter(
        d.strftime("%Y-%m") for d in Allocation.objects.values_list("randomized_on", flat=True)
    )
    cumulative, running = [], 0
    for month in sorted(by_month):
        running += by_month[month]
        cumulative.append({"month": month, "randomized": running})
    completeness = {}
    for code in follow_up_codes():
        visits = Visit.objects.filter(code=code)
        due = visits.exclude(status__in=["upcoming", "not_applicable"]).count()
        done = visits.filter(status__in=["done", "done_out_of_window"]).count()
        completeness[code] = {
            "due": due,
            "done": done,
            "percent": round(100 * done / due, 1) if due else None,
        }
    return {"target": target, "enrolment": cumulative, "completeness": completeness}


def build_report(
    *,
    arm_of: dict[int, str] | None,
    arms=stats.DEFAULT_ARMS,
    population: str = "completers",
    target: int = 120,
    progress: Progress = _no_progress,
) -> dict[str, Any]:
    """The whole report. ``arm_of`` None gives the open (pooled) report: no arms at all."""
    pooled = arm_of is None
    # Progress is written to the run's row, which a read-only snapshot may not do:
    # report before entering it and after leaving it, never inside.
    progress(5, "reading the data")
    with _snapshot():
        if pooled:
            ids = analysed_participants().values_list("pk", flat=True)
            arm_of = dict.fromkeys(
                Allocation.objects.values_list("participant_id", flat=True), POOLED
            )
            arm_of.update(dict.fromkeys(ids, POOLED))
        participants, outcomes = load_frames(arm_of)
        data_sha = frames_sha256(participants, outcomes)
        report_arms = [POOLED] if pooled else list(arms)
        result: dict[str, Any] = {
            "schema": SCHEMA,
            "population": population,
            "arms": report_arms,
            "pooled": pooled,
            "data_sha256": data_sha,
            "data_cut": timezone.localdate().isoformat(),
            "computed_at": timezone.now().isoformat(),
            "consort": consort(arm_of, report_arms, pooled=pooled),
            "safety": safety(arm_of, report_arms, pooled=pooled),
            "conduct": conduct(target),
        }
    if pooled:
        progress(60, "pooled summaries")
        result["pooled_outcomes"] = pooled_summaries(outcomes)
        progress(100, "done")
        return result
    progress(40, "statistics")
    statistics = stats.dsmb_statistics(
        participants, outcomes, list(arms), population, design=analysis_design()
    )
    for key in ("baseline", "persistent_pain", "outcomes", "tics"):
        result[key] = statistics[key]
    progress(100, "done")
    return result


def pooled_summaries(outcomes: pd.DataFrame) -> dict[str, Any]:
    """Means over visits for everyone together (the open report shows no arms)."""
    summary = {}
    for outcome in (*stats.OUTCOMES, stats.TICS_OUTCOME):
        per_visit = {}
        for visit in analysis_design().visits:
            values = pd.to_numeric(
                outcomes.loc[outcomes["visit"] == visit, outcome], errors="coerce"
            ).dropna()
            if values.empty:
                continue
            per_visit[visit] = {
                "n": int(values.size),
                "mean": float(values.mean()),
                "sd": float(values.std(ddof=1)) if values.size > 1 else None,
            }
        summary[outcome] = per_visit
    return summary
