"""The assessor runs a TICS telephone interview from the call list, in a real Chromium."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import baseline_data, login
from followup import services
from followup.models import PhoneInterview, Visit
from followup.windows import add_months
from questionnaires import services as q_services
from questionnaires.demo import _answers
from questionnaires.models import Response
from trial import services as trial_services
from trial.models import Participant, Screening

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_assessor_completes_tics_call_from_the_call_list(page, assessor, nurse, make_participant):
    participant = make_participant()
    today = timezone.localdate()
    m6_target = today - timedelta(days=2)
    procedure = add_months(m6_target, -6)
    Screening.objects.filter(pk=participant.screening.pk).update(
        screening_date=procedure - timedelta(days=3)
    )
    Participant.objects.filter(pk=participant.pk).update(consent_date=procedure - timedelta(days=3))
    participant.refresh_from_db()
    trial_services.baseline_save(
        participant=participant, data=baseline_data(procedure_date=procedure), by=nurse
    )
    services.contact_details_save(
        participant=participant,
        data={"phone": "13812345678", "alternative_phone": "", "best_time": "Evenings"},
        by=nurse,
    )
    services.visits_refresh()
    m6 = Visit.objects.get(participant=participant, code="m6")
    assert m6.status == "due"
    rng = random.Random(3)
    for key in ("sf_mpq", "gad7", "phq9", "psqi"):
        q_services.response_record(
            participant=participant,
            visit="m6",
            instrument=key,
            answers=_answers(key, rng),
            administration=q_services.Administration(administered_on=today, mode="telephone"),
            by=assessor,
        )

    login(page, "assessor")
    page.get_by_role("link", name="Calls").click()
    row = page.get_by_test_id("visit-list").locator("tr", has_text=participant.study_id)
    assert "13812345678" in row.inner_text()
    row.get_by_role("link", name="Open").click()
    page.get_by_test_id("script").get_by_role("link", name="administer now").click()
    page.wait_for_url("**/m6/tics/enter/**")
    points = {
        "tics_name": 2,
        "tics_date": 5,
        "tics_location": 4,
        "tics_count_back": 2,
        "tics_immediate_recall": 7,
        "tics_serial7": 4,
        "tics_naming": 2,
        "tics_president_vp": 3,
        "tics_repetition": 2,
        "tics_finger_tap": 2,
        "tics_opposites": 2,
    }
    for key, value in points.items():
        page.locator(f"#id_{key}").fill(str(value))
    page.get_by_role("button", name="Save and score").click()
    page.wait_for_url(f"**/followup/calls/{m6.pk}/")
    assert (
        Response.objects.get(participant=participant, visit="m6", instrument="tics").scores["total"]
        == 35
    )

    started = timezone.localtime() - timedelta(minutes=30)
    page.get_by_label("Call started").fill(started.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Call ended").fill(
        (started + timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M")
    )
    page.locator("#div_id_call-disrupted").get_by_label("No").check()
    page.get_by_label("I did not learn the participant's allocation during this call").check()
    page.get_by_role("button", name="Finish the call").click()
    page.wait_for_url("**/followup/calls/")
    assert "Call recorded." in page.locator("main").inner_text()
    m6.refresh_from_db()
    assert m6.status == "done"
    interview = PhoneInterview.objects.get(visit=m6)
    assert interview.remained_blind and not interview.disrupted
