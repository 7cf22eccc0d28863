"""Follow-up services: scheduling from the procedure date, states, calls, events, status."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from conftest import baseline_data
from followup import services
from followup.models import (
    Adherence,
    AdverseEvent,
    AssessorExclusion,
    DigestSent,
    StatusEvent,
    Visit,
    VisitStatus,
)
from followup.tasks import daily_followup
from questionnaires import services as q_services
from questionnaires.demo import _answers
from questionnaires.scoring import TICS_VERSIONS
from trial import services as trial_services
from trial.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def scheduled(make_participant, nurse):
    """A participant whose procedure was 40 days ago (m1 overdue-ish, m3/m6 upcoming)."""

    def _make(days_ago=40, **overrides):
        participant = make_participant(**overrides)
        procedure = timezone.localdate() - timedelta(days=days_ago)
        screening = participant.screening
        # The screening must precede the procedure for the baseline's own check.
        type(screening).objects.filter(pk=screening.pk).update(
            screening_date=procedure - timedelta(days=3)
        )
        type(participant).objects.filter(pk=participant.pk).update(
            consent_date=procedure - timedelta(days=3)
        )
        participant.refresh_from_db()
        trial_services.baseline_save(
            participant=participant, data=baseline_data(procedure_date=procedure), by=nurse
        )
        return participant

    return _make


def visit(participant, code) -> Visit:
    return Visit.objects.get(participant=participant, code=code)


def at(day, hour=10):
    return timezone.make_aware(datetime.combine(day, time(hour)))


def enter_all(visit_obj, by, day=None):
    for key in visit_obj.instruments:
        answers = (
            dict.fromkeys(TICS_VERSIONS["tics41"], 1)
            if key == "tics"
            else _answers(key, __import__("random").Random(1))
        )
        q_services.response_record(
            participant=visit_obj.participant,
            visit=visit_obj.code,
            instrument=key,
            answers=answers,
            administration=q_services.Administration(
                administered_on=day or min(visit_obj.target_date, timezone.localdate()),
                mode="telephone",
            ),
            by=by,
        )


class TestSchedule:
    def test_baseline_procedure_date_creates_visits(self, scheduled):
        participant = scheduled(days_ago=40)
        procedure = participant.baseline.procedure_date
        visits = {v.code: v for v in Visit.objects.filter(participant=participant)}
        assert set(visits) == {"m1", "m3", "m6"}
        m1 = visits["m1"]
        assert m1.window_opens == m1.target_date - timedelta(days=7)
        assert m1.window_closes == m1.target_date + timedelta(days=7)
        assert visits["m6"].instruments == ["sf_mpq", "gad7", "phq9", "psqi", "tics"]
        assert visits["m3"].extra_forms == ["adherence"]
        assert visits["m3"].window_closes - visits["m3"].target_date == timedelta(days=14)
        assert m1.target_date.month in {(procedure.month % 12) + 1}
        assert m1.status == VisitStatus.OVERDUE  # 40 days: m1 window closed 2-3 days ago
        assert visits["m3"].status == VisitStatus.UPCOMING

    def test_changing_the_procedure_date_moves_open_visits(self, scheduled, nurse):
        participant = scheduled(days_ago=40)
        old = visit(participant, "m3").target_date
        new_procedure = participant.baseline.procedure_date + timedelta(days=5)
        trial_services.baseline_save(
            participant=participant,
            data=baseline_data(procedure_date=new_procedure),
            by=nurse,
            reason="Surgery was postponed",
        )
        moved = visit(participant, "m3")
        assert moved.target_date != old
        history = AuditEvent.objects.filter(
            model="followup.Visit", subject=participant.study_id, action="update"
        )
        assert history.exists()

    def test_custom_schedule_is_configuration(self, settings, scheduled):
        settings.FOLLOWUP_SCHEDULE = {
            "visits": [
                {
                    "code": "m2",
                    "label": "2 months",
                    "months": 2,
                    "window_before_days": 3,
                    "window_after_days": 5,
                    "instruments": ["phq9"],
                },
            ]
        }
        participant = scheduled(days_ago=5)
        only = Visit.objects.get(participant=participant)
        assert (only.code, only.instruments) == ("m2", ["phq9"])
        assert only.window_closes - only.target_date == timedelta(days=5)


class TestStates:
    def test_refresh_moves_states_and_is_idempotent(self, scheduled):
        participant = scheduled(days_ago=60)
        m3 = visit(participant, "m3")
        with time_machine.travel(at(m3.window_opens), tick=False):
            assert services.visits_refresh() >= 1
            assert visit(participant, "m3").status == VisitStatus.DUE
            assert services.visits_refresh() == 0
        with time_machine.travel(at(m3.window_closes + timedelta(days=1)), tick=False):
            services.visits_refresh()
            assert visit(participant, "m3").status == VisitStatus.OVERDUE

    def test_three_failed_attempts_then_window_closes_marks_missed(self, scheduled, assessor):
        participant = scheduled(days_ago=25)
        m1 = visit(participant, "m1")
        results = [
            services.contact_attempt_record(
                visit=m1, attempted_at=at(m1.window_opens, h), outcome="no_answer", by=assessor
            )
            for h in (9, 12)
        ]
        assert [r.suggest_missed for r in results] == [False, False]
        third = services.contact_attempt_record(
            visit=m1, attempted_at=at(m1.window_opens, 15), outcome="wrong_number", by=assessor
        )
        assert third.suggest_missed is True
        with time_machine.travel(at(m1.window_closes + timedelta(days=1)), tick=False):
            services.visits_refresh()
        m1.refresh_from_db()
        assert m1.status == VisitStatus.MISSED
        assert "Three failed contact attempts" in m1.missed_reason

    def test_complete_in_and_out_of_window(self, scheduled, nurse, assessor):
        participant = scheduled(days_ago=40)
        m1 = visit(participant, "m1")
        with pytest.raises(ValidationError) as excinfo:
            services.visit_complete(visit=m1, done_on=m1.target_date, by=nurse)
        assert excinfo.value.messages[0] == (
            "These questionnaires are still to be entered: SF-MPQ, GAD-7, PHQ-9, PSQI."
        )
        enter_all(m1, assessor)
        late = m1.window_closes + timedelta(days=1)
        with pytest.raises(ValidationError) as excinfo:
            services.visit_complete(visit=m1, done_on=late, by=nurse)
        assert excinfo.value.message_dict["out_of_window_reason"] == [
            str(services.OUT_OF_WINDOW_REASON_REQUIRED)
        ]
        done = services.visit_complete(
            visit=m1, done_on=late, by=nurse, out_of_window_reason="Participant in hospital"
        )
        assert done.status == VisitStatus.DONE_OUT_OF_WINDOW
        with pytest.raises(ValidationError):
            services.visit_complete(visit=done, done_on=late, by=nurse, out_of_window_reason="x")

    def test_missed_needs_reason(self, scheduled, nurse):
        m1 = visit(scheduled(days_ago=40), "m1")
        with pytest.raises(ValidationError):
            services.visit_mark_missed(visit=m1, reason=" ", by=nurse)
        assert services.visit_mark_missed(visit=m1, reason="Abroad", by=nurse).status == "missed"


class TestInterview:
    def test_call_completes_visit_when_all_entered(self, scheduled, assessor):
        participant = scheduled(days_ago=34)
        m1 = visit(participant, "m1")
        enter_all(m1, assessor, day=m1.target_date)
        interview = services.interview_record(
            visit=m1,
            started_at=at(m1.target_date),
            ended_at=at(m1.target_date, 11),
            disrupted=False,
            remained_blind=True,
            by=assessor,
        )
        m1.refresh_from_db()
        assert m1.status == VisitStatus.DONE and m1.done_on == m1.target_date
        assert interview.remained_blind

    def test_unblinded_assessor_is_routed_away(self, scheduled, assessor, site):
        from conftest import make_user
        from followup.selectors import call_list

        other = make_user("assessor2", "blinded_assessor", sites=[site])
        participant = scheduled(days_ago=34)
        m1 = visit(participant, "m1")
        with pytest.raises(ValidationError):
            services.interview_record(
                visit=m1,
                started_at=at(m1.target_date),
                ended_at=at(m1.target_date, 11),
                disrupted=False,
                remained_blind=False,
                by=assessor,
            )
        services.interview_record(
            visit=m1,
            started_at=at(m1.target_date),
            ended_at=at(m1.target_date, 11),
            disrupted=False,
            remained_blind=False,
            unblinding_note="She named the side effect",
            by=assessor,
        )
        assert AssessorExclusion.objects.filter(participant=participant, assessor=assessor).exists()
        m3 = visit(participant, "m3")
        with time_machine.travel(at(m3.target_date), tick=False):
            services.visits_refresh()
            mine = list(call_list(user=assessor, which="in_window"))
            theirs = list(call_list(user=other, which="in_window"))
        assert m3 not in mine and m3 in theirs
        with pytest.raises(PermissionDenied):
            services.interview_record(
                visit=m3,
                started_at=at(m1.target_date),
                ended_at=at(m1.target_date, 11),
                disrupted=False,
                remained_blind=True,
                out_of_window_reason="x",
                by=assessor,
            )

    def test_call_ending_before_start_refused(self, scheduled, assessor):
        m1 = visit(scheduled(days_ago=34), "m1")
        with pytest.raises(ValidationError) as excinfo:
            services.interview_record(
                visit=m1,
                started_at=at(m1.target_date, 11),
                ended_at=at(m1.target_date, 10),
                disrupted=False,
                remained_blind=True,
                by=assessor,
            )
        assert "ended_at" in excinfo.value.message_dict


class TestAdverseEvents:
    def data(self, **overrides):
        values = {
            "term": "Nausea",
            "onset_date": timezone.localdate(),
            "end_date": None,
            "severity": "mild",
            "serious": False,
            "sae_criteria": [],
            "relatedness": "possible",
            "action_taken": "none",
            "outcome": "recovering",
        }
        values.update(overrides)
        return values

    def test_sae_notifies_and_needs_review(
        self, make_participant, nurse, investigator, dsmb, django_capture_on_commit_callbacks
    ):
        investigator.email, dsmb.email = "pi@example.org", "dsmb@example.org"
        investigator.save()
        dsmb.save()
        participant = make_participant()
        with pytest.raises(ValidationError) as excinfo:
            services.adverse_event_record(
                participant=participant, data=self.data(serious=True), by=nurse
            )
        assert excinfo.value.message_dict["sae_criteria"] == [str(services.AE_CRITERIA_REQUIRED)]
        with django_capture_on_commit_callbacks(execute=True):
            event = services.adverse_event_record(
                participant=participant,
                data=self.data(serious=True, sae_criteria=["hospitalisation"], term="Pneumonia"),
                by=nurse,
            )
        assert len(mail.outbox) == 1
        assert set(mail.outbox[0].to) == {"pi@example.org", "dsmb@example.org"}
        assert "Pneumonia" in mail.outbox[0].body
        with pytest.raises(PermissionDenied):
            services.adverse_event_review(event=event, note="ok", by=nurse)
        services.adverse_event_review(
            event=event, note="Unrelated; admitted 3 days", by=investigator
        )
        event.refresh_from_db()
        assert event.reviewed_by == investigator

    def test_ae_rules(self, make_participant, nurse, assessor):
        participant = make_participant()
        today = timezone.localdate()
        with pytest.raises(ValidationError):
            services.adverse_event_record(
                participant=participant,
                data=self.data(onset_date=today, end_date=today - timedelta(days=1)),
                by=nurse,
            )
        with pytest.raises(ValidationError):
            services.adverse_event_record(
                participant=participant, data=self.data(sae_criteria=["death"]), by=nurse
            )
        with pytest.raises(PermissionDenied):
            services.adverse_event_record(participant=participant, data=self.data(), by=assessor)
        event = services.adverse_event_record(participant=participant, data=self.data(), by=nurse)
        with pytest.raises(ValidationError):
            services.adverse_event_update(
                event=event, data=self.data(severity="moderate"), reason="", by=nurse
            )
        services.adverse_event_update(
            event=event, data=self.data(severity="moderate"), reason="Worsened", by=nurse
        )
        assert AdverseEvent.objects.get().severity == "moderate"


class TestStatus:
    def test_withdrawal_marks_open_visits_not_applicable(self, scheduled, nurse):
        participant = scheduled(days_ago=40)
        with pytest.raises(ValidationError) as excinfo:
            services.status_change(
                participant=participant,
                kind="withdrawn",
                effective_date=timezone.localdate(),
                reason="Tired",
                by=nurse,
            )
        assert "decided_by" in excinfo.value.message_dict
        services.status_change(
            participant=participant,
            kind="withdrawn",
            effective_date=timezone.localdate(),
            reason="Tired of calls",
            decided_by="participant",
            data_may_be_used=True,
            by=nurse,
        )
        participant.refresh_from_db()
        assert participant.status == "withdrawn"
        assert set(
            Visit.objects.filter(participant=participant).values_list("status", flat=True)
        ) == {"not_applicable"}
        with pytest.raises(ValidationError):
            services.status_change(
                participant=participant,
                kind="lost_to_follow_up",
                effective_date=timezone.localdate(),
                reason="x",
                by=nurse,
            )

    def test_exclusion_is_an_investigators_decision(self, scheduled, nurse, investigator):
        participant = scheduled(days_ago=20)
        with pytest.raises(PermissionDenied):
            services.status_change(
                participant=participant,
                kind="excluded",
                effective_date=timezone.localdate(),
                reason="Wound infection",
                by=nurse,
            )
        event = services.status_change(
            participant=participant,
            kind="excluded",
            effective_date=timezone.localdate(),
            reason="Postoperative wound infection",
            by=investigator,
        )
        assert event.investigator == investigator
        participant.refresh_from_db()
        assert participant.status == "excluded"

    def test_completion_needs_m6(self, scheduled, nurse):
        participant = scheduled(days_ago=40)
        with pytest.raises(ValidationError) as excinfo:
            services.status_change(
                participant=participant,
                kind="completed",
                effective_date=timezone.localdate(),
                by=nurse,
            )
        assert excinfo.value.messages == [
            str(services.COMPLETION_BEFORE_LAST_VISIT % {"visit": "6 months"})
        ]
        assert StatusEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("returned", "percent"), [(0, "178.6"), (132, "100.0"), (216, "50.0"), (300, "0.0")]
)
def test_adherence_percentage(make_participant, nurse, returned, percent):
    record = services.adherence_record(
        participant=make_participant(),
        counted_on=timezone.localdate(),
        cachets_returned=returned,
        by=nurse,
    )
    assert record.percent_taken == Decimal(percent)


def test_adherence_limits(make_participant, nurse, assessor):
    participant = make_participant()
    with pytest.raises(ValidationError):
        services.adherence_record(
            participant=participant, counted_on=timezone.localdate(), cachets_returned=301, by=nurse
        )
    with pytest.raises(PermissionDenied):
        services.adherence_record(
            participant=participant,
            counted_on=timezone.localdate(),
            cachets_returned=10,
            by=assessor,
        )
    services.adherence_record(
        participant=participant, counted_on=timezone.localdate(), cachets_returned=10, by=nurse
    )
    with pytest.raises(ValidationError):
        services.adherence_record(
            participant=participant, counted_on=timezone.localdate(), cachets_returned=10, by=nurse
        )
    assert Adherence.objects.count() == 1


def test_daily_task_is_idempotent(scheduled, nurse, assessor):
    nurse.email, assessor.email = "nurse@example.org", "assessor@example.org"
    nurse.save()
    assessor.save()
    participant = scheduled(days_ago=28)  # m1 window open
    m1 = visit(participant, "m1")
    Visit.objects.filter(pk=m1.pk).update(status="upcoming")
    first = daily_followup()
    assert first["visits_changed"] == 1
    assert first["digests_sent"] == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["assessor@example.org", "nurse@example.org"]
    assert participant.study_id in mail.outbox[0].body
    second = daily_followup()
    assert second == {"visits_changed": 0, "digests_sent": 0}
    assert len(mail.outbox) == 2
    assert DigestSent.objects.count() == 2
