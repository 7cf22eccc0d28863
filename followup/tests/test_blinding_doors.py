"""An assessor who learned a participant's arm is barred from that participant at
every door: the call page, the questionnaire pages (enter, view, correct), and the
services behind them, whoever calls them."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from conftest import make_user
from followup import services
from followup.models import AssessorExclusion, PhoneInterview
from followup.tests.test_services import at, scheduled, visit  # noqa: F401 - fixture
from questionnaires import services as q_services
from questionnaires.models import Response
from trial.models import AuditEvent

pytestmark = pytest.mark.django_db

PHQ9 = {f"phq9_{n}": 0 for n in range(1, 10)}


@pytest.fixture
def unblinded_call(scheduled, assessor):  # noqa: F811 - the imported fixture
    participant = scheduled(days_ago=34)
    m1 = visit(participant, "m1")
    services.interview_record(
        visit=m1,
        started_at=at(m1.target_date),
        ended_at=at(m1.target_date, 11),
        disrupted=False,
        remained_blind=False,
        unblinding_note="She said she is on PLACEBO",
        by=assessor,
    )
    assert AssessorExclusion.objects.filter(participant=participant, assessor=assessor).exists()
    return participant


def _administration():
    return q_services.Administration(administered_on=timezone.localdate(), mode="telephone")


@pytest.mark.parametrize("name", ["response_enter", "response_detail"])
def test_questionnaire_pages_are_closed_to_the_excluded_assessor(
    client, unblinded_call, assessor, name
):
    client.force_login(assessor)
    url = reverse(name, args=[unblinded_call.study_id, "m1", "phq9"])
    assert client.get(url).status_code == 403
    response = client.post(url, {"administered_on": timezone.localdate().isoformat(), **PHQ9})
    assert response.status_code == 403
    assert not Response.objects.filter(participant=unblinded_call, instrument="phq9").exists()


def test_another_assessor_still_may(client, unblinded_call, site):
    other = make_user("assessor2", "blinded_assessor", sites=[site])
    client.force_login(other)
    url = reverse("response_enter", args=[unblinded_call.study_id, "m1", "phq9"])
    assert client.get(url).status_code == 200


def test_the_services_refuse_the_excluded_assessor_too(unblinded_call, assessor, nurse):
    with pytest.raises(PermissionDenied) as excinfo:
        q_services.response_record(
            participant=unblinded_call,
            visit="m1",
            instrument="phq9",
            answers=PHQ9,
            administration=_administration(),
            by=assessor,
        )
    assert str(excinfo.value) == str(services.ASSESSOR_EXCLUDED)
    response = q_services.response_record(
        participant=unblinded_call,
        visit="m1",
        instrument="phq9",
        answers=PHQ9,
        administration=_administration(),
        by=nurse,  # the nurse was never excluded
    )
    with pytest.raises(PermissionDenied):
        q_services.response_correct(
            response=response,
            answers={**PHQ9, "phq9_1": 1},
            administration=_administration(),
            reason="x",
            by=assessor,
        )
    with pytest.raises(PermissionDenied):
        services.contact_attempt_record(
            visit=visit(unblinded_call, "m3"),
            attempted_at=timezone.now(),
            outcome="no_answer",
            by=assessor,
        )


def test_the_note_is_sealed_and_out_of_the_history(unblinded_call):
    interview = PhoneInterview.objects.get(visit__participant=unblinded_call)
    assert interview.unblinding_note_token and "PLACEBO" not in interview.unblinding_note_token
    assert not hasattr(interview.history.model, "unblinding_note")
    assert not hasattr(interview.history.model, "unblinding_note_token")
    for line in AuditEvent.objects.filter(subject=unblinded_call.study_id):
        assert "PLACEBO" not in str(line.changes) + line.reason + line.summary
