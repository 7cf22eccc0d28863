"""The assessor's call page: the page, and its two forms each posting to its own view.

A contact attempt goes back to the page (to call again); a finished call goes on to
the call list. A form that fails shows the page again with its errors beside the
fields and the other form fresh; nothing is stored.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from conftest import baseline_data, make_user
from followup import services
from followup.models import AssessorExclusion, ContactAttempt, PhoneInterview, Visit
from followup.windows import add_months
from trial import services as trial_services
from trial.models import Participant, Screening

pytestmark = pytest.mark.django_db


@pytest.fixture
def call(make_participant, nurse) -> Visit:
    """A participant's m1 visit, due today."""
    participant = make_participant()
    procedure = add_months(timezone.localdate(), -1)
    Screening.objects.filter(pk=participant.screening.pk).update(
        screening_date=procedure - timedelta(days=3)
    )
    Participant.objects.filter(pk=participant.pk).update(consent_date=procedure - timedelta(days=3))
    participant.refresh_from_db()
    trial_services.baseline_save(
        participant=participant, data=baseline_data(procedure_date=procedure), by=nurse
    )
    services.visits_refresh()
    return Visit.objects.get(participant=participant, code="m1")


def _minute(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def attempt_data(**overrides):
    data = {
        "attempt-attempted_at": _minute(timezone.now() - timedelta(minutes=5)),
        "attempt-outcome": "no_answer",
        "attempt-call_back_at": "",
        "attempt-note": "",
    }
    data.update(overrides)
    return data


def interview_data(**overrides):
    started = timezone.now() - timedelta(minutes=30)
    data = {
        "call-started_at": _minute(started),
        "call-ended_at": _minute(started + timedelta(minutes=20)),
        "call-disrupted": "no",
        "call-disruption_note": "",
        "call-remained_blind": "yes",
        "call-unblinding_note": "",
        "call-out_of_window_reason": "",
    }
    data.update(overrides)
    return data


def test_each_form_posts_to_its_own_view(client, assessor, call):
    client.force_login(assessor)
    body = client.get(reverse("call_page", args=[call.pk])).content.decode()
    assert f'action="{reverse("call_attempt", args=[call.pk])}"' in body
    assert f'action="{reverse("call_interview", args=[call.pk])}"' in body


def test_an_attempt_is_logged_and_the_page_shown_again(client, assessor, call):
    client.force_login(assessor)
    response = client.post(reverse("call_attempt", args=[call.pk]), attempt_data())
    assert response.status_code == 302
    assert response["Location"] == reverse("call_page", args=[call.pk])
    attempt = ContactAttempt.objects.get(visit=call)
    assert (attempt.outcome, attempt.by) == ("no_answer", assessor)
    page = client.get(response["Location"]).content.decode()
    assert "Attempt logged." in page and "No answer" in page
    assert not PhoneInterview.objects.exists()


def test_three_failed_attempts_suggest_the_visit_is_missed(client, assessor, call):
    client.force_login(assessor)
    for minutes in (60, 40, 20):
        attempted = _minute(timezone.now() - timedelta(minutes=minutes))
        response = client.post(
            reverse("call_attempt", args=[call.pk]),
            attempt_data(**{"attempt-attempted_at": attempted}),
            follow=True,
        )
    assert "Three attempts have failed in this window" in response.content.decode()
    assert ContactAttempt.objects.filter(visit=call).count() == 3


def test_a_refused_attempt_is_shown_beside_its_field(client, assessor, call):
    client.force_login(assessor)
    url = reverse("call_attempt", args=[call.pk])
    shapeless = client.post(url, attempt_data(**{"attempt-outcome": ""}))
    assert shapeless.status_code == 200
    assert "outcome" in shapeless.context["attempt_form"].errors
    refused = client.post(url, attempt_data(**{"attempt-outcome": "call_back"}))
    assert refused.status_code == 200
    assert refused.context["attempt_form"].errors["call_back_at"] == [
        str(services.CALL_BACK_TIME_REQUIRED)
    ]
    # The other form is fresh, and the page still links back to itself.
    assert not refused.context["interview_form"].is_bound
    assert refused.context["here"] == reverse("call_page", args=[call.pk])
    assert not ContactAttempt.objects.exists()


def test_a_finished_call_is_recorded_and_goes_on_to_the_call_list(client, assessor, call):
    client.force_login(assessor)
    response = client.post(reverse("call_interview", args=[call.pk]), interview_data())
    assert response.status_code == 302
    assert response["Location"] == reverse("call_list")
    interview = PhoneInterview.objects.get(visit=call)
    assert interview.remained_blind and not interview.disrupted
    assert "Call recorded." in client.get(response["Location"]).content.decode()
    assert not ContactAttempt.objects.exists()


def test_a_refused_call_is_shown_beside_its_field(client, assessor, call):
    client.force_login(assessor)
    response = client.post(
        reverse("call_interview", args=[call.pk]), interview_data(**{"call-remained_blind": "no"})
    )
    assert response.status_code == 200
    assert response.context["interview_form"].errors["unblinding_note"] == [
        str(services.UNBLINDING_NOTE_REQUIRED)
    ]
    assert not response.context["attempt_form"].is_bound
    assert not PhoneInterview.objects.exists()


def test_a_post_records_only_its_own_form(client, assessor, call):
    # Both forms' fields in one post: each view reads only its own form.
    client.force_login(assessor)
    client.post(reverse("call_attempt", args=[call.pk]), {**attempt_data(), **interview_data()})
    assert ContactAttempt.objects.count() == 1 and not PhoneInterview.objects.exists()
    client.post(reverse("call_interview", args=[call.pk]), {**attempt_data(), **interview_data()})
    assert ContactAttempt.objects.count() == 1 and PhoneInterview.objects.count() == 1


def test_the_page_is_read_and_the_forms_posted(client, assessor, call):
    client.force_login(assessor)
    assert client.post(reverse("call_page", args=[call.pk]), attempt_data()).status_code == 405
    for name in ("call_attempt", "call_interview"):
        assert client.get(reverse(name, args=[call.pk])).status_code == 405
    assert not ContactAttempt.objects.exists()


@pytest.mark.parametrize(
    "role", ["research_nurse", "investigator", "data_manager", "dsmb", "unblinded_statistician"]
)
def test_only_assessors_post_the_call_forms(client, role_users, call, role):
    client.force_login(role_users[role])
    assert client.post(reverse("call_attempt", args=[call.pk]), attempt_data()).status_code == 403
    assert (
        client.post(reverse("call_interview", args=[call.pk]), interview_data()).status_code == 403
    )
    assert not ContactAttempt.objects.exists() and not PhoneInterview.objects.exists()


def test_an_unblinded_assessor_is_turned_away_from_every_part(client, assessor, site, call):
    client.force_login(assessor)
    client.post(
        reverse("call_interview", args=[call.pk]),
        interview_data(
            **{"call-remained_blind": "no", "call-unblinding_note": "She named her tablets"}
        ),
    )
    assert AssessorExclusion.objects.filter(participant=call.participant, assessor=assessor)
    m3 = Visit.objects.get(participant=call.participant, code="m3")
    assert client.get(reverse("call_page", args=[m3.pk])).status_code == 403
    assert client.post(reverse("call_attempt", args=[m3.pk]), attempt_data()).status_code == 403
    assert client.post(reverse("call_interview", args=[m3.pk]), interview_data()).status_code == 403
    assert not ContactAttempt.objects.exists()
    # Another assessor at the site still may.
    client.force_login(make_user("assessor2", "blinded_assessor", sites=[site]))
    assert client.post(reverse("call_attempt", args=[m3.pk]), attempt_data()).status_code == 302


def test_another_sites_visit_is_not_found(client, other_site, call):
    client.force_login(make_user("far_assessor", "blinded_assessor", sites=[other_site]))
    for name in ("call_page", "call_attempt", "call_interview"):
        method = client.get if name == "call_page" else client.post
        assert method(reverse(name, args=[call.pk])).status_code == 404
