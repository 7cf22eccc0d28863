"""Another schedule is configuration, not code: a trial with a 12-month visit, end to end.

Only ``FOLLOWUP_SCHEDULE`` changes. The visits are planned with their windows,
the questionnaires are entered at m12 (the page and the service accept it), the
export carries it, the import reads it back byte for byte, and the DSMB
analysis runs over baseline, m1, m3, m6 and m12 with persistent pain at m12 too.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from analysis.tests.test_interchange import _import, _rows, _wipe_clinical_data
from conftest import baseline_data
from questionnaires.schedule import DEFAULT_SCHEDULE, schedule_as_config

pytestmark = pytest.mark.django_db

M12 = {
    "code": "m12",
    "label": "12 months",
    "months": 12,
    "window_before_days": 14,
    "window_after_days": 14,
    "instruments": ["sf_mpq", "gad7", "phq9", "psqi"],
    "persistent_pain": True,
}
WITH_M12 = {"visits": [*schedule_as_config(DEFAULT_SCHEDULE)["visits"], M12]}
FILES = ("screening.csv", "participants.csv", "visits.csv", "adverse_events.csv")


@pytest.fixture
def twelve_months(settings):
    settings.FOLLOWUP_SCHEDULE = WITH_M12


@pytest.fixture
def trial_with_m12(twelve_months, make_participant, nurse, active_list):
    """Ten randomized participants whose procedure was 13 months ago, every visit entered."""
    from followup.models import Visit
    from questionnaires import services as q_services
    from questionnaires.demo import _answers, checked_queries
    from randomization import services as r_services
    from trial import services as trial_services

    rng = random.Random(12)
    procedure = timezone.localdate() - timedelta(days=400)
    participants = []
    for _ in range(10):
        participant = make_participant()
        type(participant.screening).objects.filter(pk=participant.screening.pk).update(
            screening_date=procedure - timedelta(days=3)
        )
        type(participant).objects.filter(pk=participant.pk).update(
            consent_date=procedure - timedelta(days=3)
        )
        participant.refresh_from_db()
        trial_services.baseline_save(
            participant=participant, data=baseline_data(procedure_date=procedure), by=nurse
        )
        r_services.allocation_assign(participant=participant, by=nurse)
        for visit in Visit.objects.filter(participant=participant).order_by("target_date"):
            for key in visit.instruments:
                if key == "tics":
                    from questionnaires.scoring import TICS_VERSIONS

                    answers = dict.fromkeys(TICS_VERSIONS["tics41"], 1)
                else:
                    answers = _answers(key, rng)
                q_services.response_record(
                    participant=participant,
                    visit=visit.code,
                    instrument=key,
                    answers=answers,
                    administration=q_services.Administration(
                        administered_on=visit.target_date,
                        mode="telephone",
                        queries_confirmed=checked_queries(key, answers),
                    ),
                    by=nurse,
                )
        for key in ("sf_mpq", "gad7", "phq9", "psqi"):
            answers = _answers(key, rng)
            q_services.response_record(
                participant=participant,
                visit="baseline",
                instrument=key,
                answers=answers,
                administration=q_services.Administration(
                    administered_on=procedure - timedelta(days=1),
                    mode="in_person",
                    queries_confirmed=checked_queries(key, answers),
                ),
                by=nurse,
            )
        participants.append(participant)
    return participants


def test_the_visits_are_planned_from_the_configuration(trial_with_m12):
    from followup.models import Visit
    from followup.windows import add_months

    participant = trial_with_m12[0]
    visits = {v.code: v for v in Visit.objects.filter(participant=participant)}
    assert set(visits) == {"m1", "m3", "m6", "m12"}
    m12 = visits["m12"]
    target = add_months(participant.baseline.procedure_date, 12)
    assert (m12.target_date, m12.window_opens, m12.window_closes) == (
        target,
        target - timedelta(days=14),
        target + timedelta(days=14),
    )
    assert tuple(m12.instruments) == tuple(M12["instruments"])


def test_the_m12_questionnaire_page_opens_and_m12_is_a_valid_choice(client, trial_with_m12, nurse):
    from questionnaires.models import Response

    client.force_login(nurse)
    participant = trial_with_m12[0]
    page = client.get(reverse("response_detail", args=[participant.study_id, "m12", "phq9"]))
    assert page.status_code == 200 and "12 months" in page.content.decode()
    response = Response.objects.get(participant=participant, visit="m12", instrument="phq9")
    response.full_clean()  # "m12" is one of the field's choices by configuration
    assert (
        client.get(
            reverse("response_enter", args=[participant.study_id, "m24", "phq9"])
        ).status_code
        == 404
    )  # and what the schedule lacks is not


def test_export_and_import_carry_m12_byte_for_byte(
    trial_with_m12, tmp_path, statistician, datamanager
):
    first, second = tmp_path / "a", tmp_path / "b"
    call_command("export_trial_data", str(first), "--unblinded", "--user", "statistician")
    visits = _rows(first / "visits.csv")
    assert {row["visit"] for row in visits} == {"baseline", "m1", "m3", "m6", "m12"}
    order = ["baseline", "m1", "m3", "m6", "m12"]
    keys = [(row["study_id"], order.index(row["visit"])) for row in visits]
    assert keys == sorted(keys)
    _wipe_clinical_data()
    output = _import(first)
    assert "10 participants" in output
    call_command("export_trial_data", str(second), "--unblinded", "--user", "statistician")
    for name in (*FILES, "administrations.csv"):
        assert (second / name).read_bytes() == (first / name).read_bytes(), name


def test_the_dsmb_analysis_runs_over_m12(trial_with_m12, statistician):
    from analysis.report import build_report
    from randomization import unblinded

    arm_of = unblinded.arms_by_participant(user=statistician, reason="test")
    report = build_report(arm_of=arm_of, population="available")
    assert set(report["persistent_pain"]) == {"m3", "m6", "m12"}
    vas = report["outcomes"]["vas_mm"]
    assert list(vas["visits"]) == ["baseline", "m1", "m3", "m6", "m12"]
    assert [row["visit"] for row in vas["arm_at_visit"]] == ["baseline", "m1", "m3", "m6", "m12"]
    assert {row["visit"] for row in vas["visit_vs_baseline"]} == {"m1", "m3", "m6", "m12"}
    assert all(row["arm"] for row in vas["visit_vs_baseline"])
    assert report["tics"]["test"]  # TICS stays where the schedule collects it (m6)
    assert set(report["conduct"]["completeness"]) == {"m1", "m3", "m6", "m12"}
    completers = build_report(arm_of=arm_of, population="completers")
    assert list(completers["outcomes"]["vas_mm"]["visits"]) == ["baseline", "m1", "m3", "m6", "m12"]


def test_a_schedule_that_names_an_unknown_instrument_is_refused(settings):
    from questionnaires.schedule import ScheduleError
    from questionnaires.visits import trial_schedule

    settings.FOLLOWUP_SCHEDULE = {
        "visits": [{**M12, "code": "baseline", "months": 0, "instruments": ["nope"]}]
    }
    with pytest.raises(ScheduleError, match="unknown instrument 'nope'"):
        trial_schedule()
