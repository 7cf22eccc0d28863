"""Capture: forms with hard errors and soft queries, services, corrections, alerts, rescoring."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from questionnaires import services
from questionnaires.definitions import instruments
from questionnaires.forms import ITEM_REQUIRED, PSQI_5J_TEXT_REQUIRED, ResponseForm
from questionnaires.models import Response, SafetyAlert
from trial.models import AuditEvent

pytestmark = pytest.mark.django_db

PSQI_MIDNIGHT = {
    "psqi_1": "23:30",
    "psqi_2": "20",
    "psqi_3": "06:30",
    "psqi_4_hours": "6",
    "psqi_4_minutes": "0",
    "psqi_5a": "1",
    "psqi_5b": "1",
    "psqi_5c": "0",
    "psqi_5d": "0",
    "psqi_5e": "0",
    "psqi_5f": "0",
    "psqi_5g": "0",
    "psqi_5h": "0",
    "psqi_5i": "2",
    "psqi_6": "1",
    "psqi_7": "0",
    "psqi_8": "0",
    "psqi_9": "1",
}


def form_data(instrument, **answers):
    data = {"administered_on": timezone.localdate().isoformat(), "mode": "in_person"}
    if instrument == "phq9":
        data |= {f"phq9_{n}": "0" for n in range(1, 10)}
    if instrument == "gad7":
        data |= {f"gad7_{n}": "1" for n in range(1, 8)}
    if instrument == "psqi":
        data |= PSQI_MIDNIGHT
    data.update(answers)
    return data


def bound(instrument, **answers):
    return ResponseForm(form_data(instrument, **answers), instrument=instruments()[instrument])


class TestForm:
    def test_valid_psqi_crossing_midnight(self):
        form = bound("psqi")
        assert form.is_valid(), form.errors
        answers = form.answers()
        assert answers["psqi_4"] == "6:00" and answers["psqi_2"] == 20
        scores = instruments()["psqi"].score(answers)
        # 23:30 -> 06:30 is 7 h in bed across midnight; 6 h asleep is 85.7 %.
        assert scores["c4"] == 0 and scores["c3"] == 1
        assert round(scores["sleep_efficiency"], 1) == 85.7

    def test_missing_required_item_is_a_hard_error(self):
        form = bound("phq9", phq9_4="")
        assert not form.is_valid()
        assert form.errors["phq9_4"] == [str(ITEM_REQUIRED)]

    def test_missing_items_allowed_when_confirmed_not_answered(self):
        form = bound("phq9", phq9_4="", items_not_answered="on")
        assert form.is_valid(), form.errors
        assert form.answers()["phq9_4"] is None

    @pytest.mark.parametrize(
        ("field", "value"),
        [("phq9_1", "4"), ("phq9_1", "-1"), ("phq9_1", "x")],
    )
    def test_out_of_range_is_a_hard_error(self, field, value):
        form = bound("phq9", **{field: value})
        assert not form.is_valid()
        assert field in form.errors

    @pytest.mark.parametrize("value", ["24:00", "7:5", "7.30", "ab:cd", "2330"])
    def test_clock_times_must_be_24_hour(self, value):
        form = bound("psqi", psqi_1=value)
        assert not form.is_valid()
        assert "psqi_1" in form.errors

    def test_sleep_hours_at_most_24(self):
        form = bound("psqi", psqi_4_hours="24", psqi_4_minutes="10")
        assert not form.is_valid()
        assert "psqi_4_minutes" in form.errors

    def test_5j_text_required_when_rated(self):
        form = bound("psqi", psqi_5j="2")
        assert not form.is_valid()
        assert form.errors["psqi_5j_text"] == [str(PSQI_5J_TEXT_REQUIRED)]
        assert bound("psqi", psqi_5j="2", psqi_5j_text="Neighbour's dog").is_valid()

    @pytest.mark.parametrize(
        ("answers", "query"),
        [
            ({"psqi_1": "06:30", "psqi_3": "06:30"}, "bed_equals_getting_up"),
            ({"psqi_1": "04:00", "psqi_3": "06:30", "psqi_4_hours": "2"}, "time_in_bed_short"),
            ({"psqi_1": "13:00", "psqi_3": "06:30"}, "time_in_bed_long"),
            ({"psqi_4_hours": "8"}, "efficiency_over_100"),
        ],
    )
    def test_soft_queries_need_confirmation(self, answers, query):
        form = bound("psqi", **answers)
        assert not form.is_valid()
        assert "confirm_queries" in form.errors
        assert query in form.confirmed_queries()
        confirmed = bound("psqi", confirm_queries="on", **answers)
        assert confirmed.is_valid(), confirmed.errors
        assert query in confirmed.confirmed_queries()

    def test_vas_has_no_preset_mark(self):
        form = ResponseForm(instrument=instruments()["sf_mpq"])
        html = str(form["sfmpq_vas_mm"])
        assert "value=" not in html.split('name="sfmpq_vas_mm"')[1].split(">")[0]


def administration(**overrides):
    values = {"administered_on": timezone.localdate(), "mode": "in_person"}
    values.update(overrides)
    return services.Administration(**values)


PHQ9_CLEAN = {f"phq9_{n}": 0 for n in range(1, 10)}


class TestServices:
    def test_record_scores_and_versions(self, make_participant, nurse):
        participant = make_participant()
        response = services.response_record(
            participant=participant,
            visit="baseline",
            instrument="gad7",
            answers={f"gad7_{n}": 2 for n in range(1, 8)},
            administration=administration(),
            by=nurse,
        )
        assert response.scores == {"total": 14, "severity": "moderate"}
        assert response.scoring_version == "gad7-spitzer2006-1"
        assert AuditEvent.objects.filter(model="questionnaires.Response", action="create").exists()

    def test_second_entry_refused(self, make_participant, nurse):
        participant = make_participant()
        kwargs = dict(
            participant=participant,
            visit="baseline",
            instrument="phq9",
            answers=PHQ9_CLEAN,
            administration=administration(),
            by=nurse,
        )
        services.response_record(**kwargs)
        with pytest.raises(ValidationError) as excinfo:
            services.response_record(**kwargs)
        assert excinfo.value.messages == [str(services.ALREADY_ENTERED)]

    def test_out_of_range_names_the_item(self, make_participant, nurse):
        with pytest.raises(ValidationError) as excinfo:
            services.response_record(
                participant=make_participant(),
                visit="baseline",
                instrument="phq9",
                answers={**PHQ9_CLEAN, "phq9_3": 5},
                administration=administration(),
                by=nurse,
            )
        assert "phq9_3" in excinfo.value.message_dict
        assert Response.objects.count() == 0

    def test_dates_checked(self, make_participant, nurse):
        participant = make_participant()
        for day, message in [
            (timezone.localdate() + timedelta(days=1), services.ADMINISTERED_IN_FUTURE),
            (participant.consent_date - timedelta(days=1), services.ADMINISTERED_BEFORE_CONSENT),
        ]:
            with pytest.raises(ValidationError) as excinfo:
                services.response_record(
                    participant=participant,
                    visit="baseline",
                    instrument="phq9",
                    answers=PHQ9_CLEAN,
                    administration=administration(administered_on=day),
                    by=nurse,
                )
            assert excinfo.value.message_dict["administered_on"] == [str(message)]

    def test_correction_needs_reason_and_is_audited(self, make_participant, nurse):
        response = services.response_record(
            participant=make_participant(),
            visit="baseline",
            instrument="phq9",
            answers=PHQ9_CLEAN,
            administration=administration(),
            by=nurse,
        )
        with pytest.raises(ValidationError):
            services.response_correct(
                response=response,
                answers={**PHQ9_CLEAN, "phq9_1": 2},
                administration=administration(),
                reason=" ",
                by=nurse,
            )
        services.response_correct(
            response=response,
            answers={**PHQ9_CLEAN, "phq9_1": 2},
            administration=administration(),
            reason="Misheard item 1",
            by=nurse,
        )
        response.refresh_from_db()
        assert response.scores["total"] == 2
        event = AuditEvent.objects.get(model="questionnaires.Response", action="update")
        assert event.reason == "Misheard item 1"
        assert event.changes["answers"][0]["phq9_1"] == 0
        assert event.changes["answers"][1]["phq9_1"] == 2

    def test_only_capture_roles_enter(self, make_participant, investigator, datamanager, dsmb):
        participant = make_participant()
        for user in (investigator, datamanager, dsmb):
            with pytest.raises(PermissionDenied):
                services.response_record(
                    participant=participant,
                    visit="baseline",
                    instrument="phq9",
                    answers=PHQ9_CLEAN,
                    administration=administration(),
                    by=user,
                )


class TestSafetyAlert:
    @pytest.mark.parametrize(("item9", "alert"), [(0, False), (1, True), (3, True), (None, True)])
    def test_alert_in_same_transaction_and_notified_on_commit(
        self,
        make_participant,
        nurse,
        investigator,
        django_capture_on_commit_callbacks,
        item9,
        alert,
    ):
        investigator.email = "pi@example.org"
        investigator.save()
        answers = {**PHQ9_CLEAN, "phq9_9": item9}
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = services.response_record(
                participant=make_participant(),
                visit="baseline",
                instrument="phq9",
                answers=answers,
                administration=administration(items_not_answered=item9 is None),
                by=nurse,
            )
            # The alert exists before the notification is sent (same transaction).
            assert SafetyAlert.objects.filter(response=response).exists() is alert
        notices = list(callbacks)
        assert len(notices) == (1 if alert else 0)
        for callback in notices:
            callback()
        assert len(mail.outbox) == (1 if alert else 0)
        if alert:
            message = mail.outbox[0]
            assert message.to == ["pi@example.org"]
            assert response.participant.study_id in message.subject
            assert "MLT " not in message.body and "PLACEBO" not in message.body
            assert AuditEvent.objects.filter(
                summary__startswith="Safety alert notification"
            ).exists()

    def test_banner_until_acknowledged(self, client, make_participant, nurse, investigator):
        participant = make_participant()
        services.response_record(
            participant=participant,
            visit="baseline",
            instrument="phq9",
            answers={**PHQ9_CLEAN, "phq9_9": 2},
            administration=administration(),
            by=nurse,
        )
        alert = SafetyAlert.objects.get()
        for user in (nurse, investigator):
            client.force_login(user)
            body = client.get(reverse("home")).content.decode()
            assert 'data-testid="safety-alert-banner"' in body and participant.study_id in body
        client.force_login(nurse)
        assert (
            client.post(reverse("alert_acknowledge", args=[alert.pk]), {"note": "x"}).status_code
            == 403
        )
        client.force_login(investigator)
        response = client.post(reverse("alert_acknowledge", args=[alert.pk]), {"note": ""})
        assert response.status_code == 400
        alert.refresh_from_db()
        assert alert.is_open
        client.post(
            reverse("alert_acknowledge", args=[alert.pk]), {"note": "Called; safe; GP informed"}
        )
        alert.refresh_from_db()
        assert not alert.is_open and alert.acknowledged_by == investigator
        assert (
            'data-testid="safety-alert-banner"' not in client.get(reverse("home")).content.decode()
        )
        assert AuditEvent.objects.filter(
            model="questionnaires.SafetyAlert", action="update"
        ).exists()
        with pytest.raises(ValidationError):
            services.alert_acknowledge(alert=alert, note="again", by=investigator)

    def test_correction_never_removes_an_alert(self, make_participant, nurse):
        response = services.response_record(
            participant=make_participant(),
            visit="baseline",
            instrument="phq9",
            answers={**PHQ9_CLEAN, "phq9_9": 1},
            administration=administration(),
            by=nurse,
        )
        services.response_correct(
            response=response,
            answers=PHQ9_CLEAN,
            administration=administration(),
            reason="Item 9 keyed wrongly",
            by=nurse,
        )
        assert SafetyAlert.objects.get().is_open


class TestViews:
    def test_nurse_enters_baseline_phq9(self, client, nurse, make_participant):
        participant = make_participant()
        type(participant).objects.filter(pk=participant.pk).update(language="en")
        client.force_login(nurse)
        url = reverse("response_enter", args=[participant.study_id, "baseline", "phq9"])
        page = client.get(url).content.decode()
        assert "Little interest or pleasure in doing things" in page  # committed wording
        response = client.post(url, form_data("phq9", phq9_1="3", phq9_2="2"))
        assert response.status_code == 302
        detail = client.get(response["Location"]).content.decode()
        assert '<th scope="row">Total score</th><td data-score="total">5<' in detail
        assert '<th scope="row">Severity</th><td data-score="severity">Mild<' in detail
        nurse.profile.language = "zh-hans"
        nurse.profile.save()
        detail = client.get(response["Location"]).content.decode()
        assert '<th scope="row">总分</th><td data-score="total">5<' in detail
        assert '<td data-score="severity">轻度<' in detail
        assert '<th scope="row">第 9 项警报</th>' in detail

    def test_licensed_items_show_short_labels_without_a_pack(self, client, nurse, make_participant):
        participant = make_participant()
        client.force_login(nurse)
        page = client.get(
            reverse("response_enter", args=[participant.study_id, "baseline", "psqi"])
        ).content.decode()
        assert "1 Usual bed time" in page
        assert "[psqi_1" not in page

    def test_pack_wording_shown_when_installed(self, client, nurse, make_participant, settings):
        from questionnaires.content import _cached

        settings.QUESTIONNAIRE_CONTENT_PACK = "questionnaires/content_packs/example.json"
        _cached.cache_clear()
        try:
            participant = make_participant()
            type(participant).objects.filter(pk=participant.pk).update(language="en")
            client.force_login(nurse)
            page = client.get(
                reverse("response_enter", args=[participant.study_id, "baseline", "psqi"])
            ).content.decode()
            assert "[psqi_1: licensed wording here]" in page
        finally:
            settings.QUESTIONNAIRE_CONTENT_PACK = ""
            _cached.cache_clear()

    def test_soft_query_confirmation_is_recorded(self, client, nurse, make_participant):
        participant = make_participant()
        client.force_login(nurse)
        url = reverse("response_enter", args=[participant.study_id, "baseline", "psqi"])
        response = client.post(url, form_data("psqi", psqi_4_hours="8"))
        assert response.status_code == 200
        assert "sleep efficiency over 100" in response.content.decode()
        assert Response.objects.count() == 0
        client.post(url, form_data("psqi", psqi_4_hours="8", confirm_queries="on"))
        assert Response.objects.get().queries_confirmed == ["efficiency_over_100"]

    @pytest.mark.parametrize(
        "role", ["investigator", "data_manager", "dsmb", "unblinded_statistician"]
    )
    def test_entry_forbidden_to_other_roles(self, client, role_users, make_participant, role):
        participant = make_participant()
        client.force_login(role_users[role])
        url = reverse("response_enter", args=[participant.study_id, "baseline", "phq9"])
        assert client.post(url, form_data("phq9")).status_code == 403
        assert Response.objects.count() == 0

    def test_codebook_page_for_data_manager_only(self, client, role_users):
        for role, user in role_users.items():
            client.force_login(user)
            response = client.get(reverse("codebook"), {"format": "csv"})
            assert response.status_code == (200 if role == "data_manager" else 403), role


def test_rescore_command(make_participant, nurse, datamanager, capsys):
    response = services.response_record(
        participant=make_participant(),
        visit="baseline",
        instrument="gad7",
        answers={f"gad7_{n}": 1 for n in range(1, 8)},
        administration=administration(),
        by=nurse,
    )
    # Simulate scores stored by an older rule set.
    Response.objects.filter(pk=response.pk).update(
        scores={"total": 6, "severity": "minimal"}, scoring_version="gad7-old-0"
    )
    with pytest.raises(CommandError):
        call_command("rescore", "--user", "nurse", "--reason", "x", "--all")
    call_command("rescore", "--user", "datamanager", "--reason", "Rules v1", "--instrument", "gad7")
    out = capsys.readouterr().out
    assert "gad7-old-0 -> gad7-spitzer2006-1" in out
    assert "total: 6 -> 7" in out and "severity: minimal -> mild" in out
    assert "1 examined, 1 rescored" in out
    response.refresh_from_db()
    assert response.scores == {"total": 7, "severity": "mild"}
    assert response.history.first().history_change_reason.startswith("Rescored")
    call_command("rescore", "--user", "datamanager", "--reason", "again", "--all")
    assert "1 examined, 0 rescored" in capsys.readouterr().out
