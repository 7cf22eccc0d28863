"""Services of the participant core: screening, consent, enrolment, study ids, baseline."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.utils import timezone

from conftest import baseline_data, make_user, screening_input
from trial import services
from trial.models import AuditEvent, Baseline, Participant, Screening, SequenceCounter
from trial.text import NUL_REFUSED

pytestmark = pytest.mark.django_db


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


class TestScreening:
    def test_eligible_screening_awaits_consent(self, make_screening):
        screening = make_screening()
        assert screening.eligible is True
        assert screening.consent_status == Screening.ConsentStatus.PENDING
        assert screening.failed_criteria == []
        assert screening.screening_id == "MLT-S0001"
        assert screening.age_at_screening >= 49

    def test_ineligible_screening_lists_failed_criteria(self, make_screening):
        screening = make_screening(
            answers={**screening_input().answers, "excl_medication": True, "excl_unwilling": True}
        )
        assert screening.eligible is False
        assert screening.consent_status == Screening.ConsentStatus.NOT_ELIGIBLE
        assert screening.failed_criteria == ["excl_medication", "excl_unwilling"]
        assert screening.excl_medication is True

    def test_age_criterion_is_derived_and_stored(self, make_screening):
        today = timezone.localdate()
        screening = make_screening(
            screening_date=today, date_of_birth=today.replace(year=today.year - 17)
        )
        assert screening.excl_age is True
        assert screening.failed_criteria == ["excl_age"]

    def test_evidence_date_defaults_to_screening_date(self, make_screening):
        screening = make_screening()
        assert screening.excl_pregnancy_date == screening.screening_date

    def test_future_screening_date_refused(self, site, nurse):
        tomorrow = timezone.localdate() + timedelta(days=1)
        with pytest.raises(ValidationError) as excinfo:
            services.screening_record(
                site=site,
                data=screening_input(screening_date=tomorrow, scheduled_procedure_date=tomorrow),
                by=nurse,
            )
        assert errors_of(excinfo)["screening_date"] == [str(services.SCREENING_DATE_IN_FUTURE)]
        assert Screening.objects.count() == 0

    def test_procedure_before_screening_refused(self, site, nurse):
        data = screening_input()
        with pytest.raises(ValidationError) as excinfo:
            services.screening_record(
                site=site,
                data=screening_input(
                    scheduled_procedure_date=data.screening_date - timedelta(days=1)
                ),
                by=nurse,
            )
        assert "scheduled_procedure_date" in errors_of(excinfo)

    def test_evidence_after_screening_refused(self, site, nurse):
        data = screening_input()
        with pytest.raises(ValidationError) as excinfo:
            services.screening_record(
                site=site,
                data=screening_input(
                    evidence_dates={"excl_pregnancy": data.screening_date + timedelta(days=1)}
                ),
                by=nurse,
            )
        assert errors_of(excinfo)["excl_pregnancy_date"] == [str(services.EVIDENCE_DATE_IN_FUTURE)]

    def test_nurse_cannot_screen_at_another_site(self, other_site, nurse):
        with pytest.raises(ValidationError) as excinfo:
            services.screening_record(site=other_site, data=screening_input(), by=nurse)
        assert excinfo.value.messages == [str(services.SITE_NOT_ALLOWED)]
        assert Screening.objects.count() == 0
        # The failed attempt did not use up a screening number.
        assert not SequenceCounter.objects.filter(site=other_site, last_number__gt=0).exists()

    def test_screening_is_audited(self, make_screening, nurse):
        screening = make_screening()
        event = AuditEvent.objects.get(model="trial.Screening", action="create")
        assert event.user == nurse
        assert event.subject == screening.screening_id
        assert event.changes["hospital_number"] == [None, screening.hospital_number]


class TestConsent:
    def test_consent_enrols_with_sequential_study_ids(self, make_participant):
        first = make_participant()
        second = make_participant()
        assert (first.study_id, second.study_id) == ("MLT-001", "MLT-002")
        assert first.screening.consent_status == Screening.ConsentStatus.CONSENTED
        assert first.status == "on_study"

    def test_study_ids_are_per_site(self, make_participant, other_site, consent_form):
        make_participant()
        nurse2 = make_user("nurse2", "research_nurse", sites=[other_site])
        screening = services.screening_record(site=other_site, data=screening_input(), by=nurse2)
        participant = services.participant_consent(
            screening=screening,
            consent_date=screening.screening_date,
            form_version=consent_form,
            signed_form_filed=True,
            by=nurse2,
        )
        assert participant.study_id == "WH-001"

    @override_settings(STUDY_ID_FORMAT="{prefix}{site}-{number:04d}")
    def test_study_id_format_is_configurable(self, make_participant):
        assert make_participant().study_id == "MLTchangsha-0001"

    def test_consent_twice_refused(self, make_screening, consent_form, nurse):
        screening = make_screening()
        kwargs = {
            "screening": screening,
            "consent_date": screening.screening_date,
            "form_version": consent_form,
            "signed_form_filed": True,
            "by": nurse,
        }
        services.participant_consent(**kwargs)
        with pytest.raises(ValidationError) as excinfo:
            services.participant_consent(**kwargs)
        assert excinfo.value.messages == [str(services.ALREADY_DECIDED)]
        assert Participant.objects.count() == 1

    def test_ineligible_cannot_consent(self, make_screening, consent_form, nurse):
        screening = make_screening(answers={**screening_input().answers, "excl_other_trial": True})
        with pytest.raises(ValidationError) as excinfo:
            services.participant_consent(
                screening=screening,
                consent_date=screening.screening_date,
                form_version=consent_form,
                signed_form_filed=True,
                by=nurse,
            )
        assert excinfo.value.messages == [str(services.NOT_ELIGIBLE_FOR_CONSENT)]

    @pytest.mark.parametrize(
        ("offset_from_screening", "message"),
        [(-1, services.CONSENT_BEFORE_SCREENING), (3, services.CONSENT_IN_FUTURE)],
    )
    def test_consent_date_rules(
        self, make_screening, consent_form, nurse, offset_from_screening, message
    ):
        screening = make_screening()
        with pytest.raises(ValidationError) as excinfo:
            services.participant_consent(
                screening=screening,
                consent_date=screening.screening_date + timedelta(days=offset_from_screening),
                form_version=consent_form,
                signed_form_filed=True,
                by=nurse,
            )
        assert errors_of(excinfo)["consent_date"] == [str(message)]
        assert Participant.objects.count() == 0
        assert not SequenceCounter.objects.filter(kind="study_id", last_number__gt=0).exists()

    def test_retired_consent_form_refused(self, make_screening, consent_form, nurse):
        consent_form.active = False
        consent_form.save()
        screening = make_screening()
        with pytest.raises(ValidationError) as excinfo:
            services.participant_consent(
                screening=screening,
                consent_date=screening.screening_date,
                form_version=consent_form,
                signed_form_filed=True,
                by=nurse,
            )
        assert "form_version" in errors_of(excinfo)

    def test_signed_form_must_be_filed(self, make_screening, consent_form, nurse):
        screening = make_screening()
        with pytest.raises(ValidationError) as excinfo:
            services.participant_consent(
                screening=screening,
                consent_date=screening.screening_date,
                form_version=consent_form,
                signed_form_filed=False,
                by=nurse,
            )
        assert "signed_form_filed" in errors_of(excinfo)

    def test_failed_consent_leaves_no_gap(self, make_screening, make_participant, consent_form):
        make_participant()
        bad = make_screening()
        with pytest.raises(ValidationError):
            services.participant_consent(
                screening=bad,
                consent_date=bad.screening_date - timedelta(days=5),
                form_version=consent_form,
                signed_form_filed=True,
                by=bad.screened_by,
            )
        assert make_participant().study_id == "MLT-002"

    def test_decline_is_recorded(self, make_screening, nurse):
        screening = make_screening()
        services.screening_decline(
            screening=screening,
            declined_on=screening.screening_date,
            reason="Lives far away",
            by=nurse,
        )
        screening.refresh_from_db()
        assert screening.consent_status == Screening.ConsentStatus.DECLINED
        assert screening.decline_reason == "Lives far away"
        event = AuditEvent.objects.filter(action="update", subject=screening.screening_id).get()
        assert event.reason == "Lives far away"

    def test_decline_needs_reason(self, make_screening, nurse):
        screening = make_screening()
        with pytest.raises(ValidationError) as excinfo:
            services.screening_decline(
                screening=screening, declined_on=screening.screening_date, reason=" ", by=nurse
            )
        assert errors_of(excinfo)["reason"] == [str(services.DECLINE_REASON_REQUIRED)]

    def test_declined_cannot_then_consent(self, make_screening, consent_form, nurse):
        screening = make_screening()
        services.screening_decline(
            screening=screening, declined_on=screening.screening_date, reason="No", by=nurse
        )
        with pytest.raises(ValidationError):
            services.participant_consent(
                screening=screening,
                consent_date=screening.screening_date,
                form_version=consent_form,
                signed_form_filed=True,
                by=nurse,
            )


class TestBaseline:
    def test_baseline_derives_bmi(self, make_participant, nurse):
        participant = make_participant()
        baseline = services.baseline_save(
            participant=participant,
            data=baseline_data(height_cm=Decimal("160"), weight_kg=Decimal("64.1")),
            by=nurse,
        )
        assert baseline.bmi == Decimal("25.0")
        assert baseline.preop_pain_condition is False

    @pytest.mark.parametrize(
        ("height", "weight", "bmi"),
        [
            ("150", "45", "20.0"),
            ("172", "80", "27.0"),
            ("165", "68.2", "25.1"),
            ("200", "61", "15.3"),
        ],
    )
    def test_bmi_rounding(self, height, weight, bmi):
        assert services.body_mass_index(
            height_cm=Decimal(height), weight_kg=Decimal(weight)
        ) == Decimal(bmi)

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("height_cm", Decimal("119.9"), services.HEIGHT_OUT_OF_RANGE),
            ("height_cm", Decimal("220.1"), services.HEIGHT_OUT_OF_RANGE),
            ("weight_kg", Decimal("29.9"), services.WEIGHT_OUT_OF_RANGE),
            ("weight_kg", Decimal("250.1"), services.WEIGHT_OUT_OF_RANGE),
            ("preop_vas_mm", 101, services.VAS_OUT_OF_RANGE),
            ("preop_vas_mm", -1, services.VAS_OUT_OF_RANGE),
        ],
    )
    def test_plausibility_ranges(self, make_participant, nurse, field, value, message):
        participant = make_participant()
        with pytest.raises(ValidationError) as excinfo:
            services.baseline_save(
                participant=participant, data=baseline_data(**{field: value}), by=nurse
            )
        assert errors_of(excinfo)[field] == [str(message)]
        assert Baseline.objects.count() == 0

    @pytest.mark.parametrize(("height", "weight"), [("120", "30"), ("220", "250")])
    def test_range_edges_accepted(self, make_participant, nurse, height, weight):
        baseline = services.baseline_save(
            participant=make_participant(),
            data=baseline_data(height_cm=Decimal(height), weight_kg=Decimal(weight)),
            by=nurse,
        )
        assert baseline.pk

    def test_procedure_date_before_screening_refused(self, make_participant, nurse):
        participant = make_participant()
        with pytest.raises(ValidationError) as excinfo:
            services.baseline_save(
                participant=participant,
                data=baseline_data(
                    procedure_date=participant.screening.screening_date - timedelta(days=1)
                ),
                by=nurse,
            )
        assert "procedure_date" in errors_of(excinfo)

    def test_comorbidity_list_rules(self, make_participant, nurse):
        participant = make_participant()
        with pytest.raises(ValidationError) as excinfo:
            services.baseline_save(
                participant=participant, data=baseline_data(comorbidity=True), by=nurse
            )
        assert errors_of(excinfo)["comorbidity_list"] == [str(services.COMORBIDITY_LIST_REQUIRED)]
        with pytest.raises(ValidationError):
            services.baseline_save(
                participant=participant,
                data=baseline_data(comorbidity=False, comorbidity_list="Asthma"),
                by=nurse,
            )

    def test_correction_needs_reason(self, make_participant, nurse):
        participant = make_participant()
        services.baseline_save(participant=participant, data=baseline_data(), by=nurse)
        with pytest.raises(ValidationError) as excinfo:
            services.baseline_save(
                participant=participant, data=baseline_data(weight_kg=Decimal("61")), by=nurse
            )
        assert errors_of(excinfo)["reason"] == [str(services.REASON_REQUIRED)]
        assert Baseline.objects.get().weight_kg == Decimal("60.0")

    def test_correction_with_reason_is_in_history(self, make_participant, nurse):
        participant = make_participant()
        services.baseline_save(participant=participant, data=baseline_data(), by=nurse)
        services.baseline_save(
            participant=participant,
            data=baseline_data(weight_kg=Decimal("61.5")),
            by=nurse,
            reason="Transcription error: scale read 61.5",
        )
        baseline = Baseline.objects.get()
        assert baseline.weight_kg == Decimal("61.5")
        latest = baseline.history.first()
        assert latest.history_change_reason == "Transcription error: scale read 61.5"
        assert latest.history_user == nurse
        event = AuditEvent.objects.get(model="trial.Baseline", action="update")
        assert event.reason == "Transcription error: scale read 61.5"
        assert event.changes["weight_kg"] == ["60.0", "61.5"]
        assert event.changes["bmi"] == ["23.4", "24.0"]
        assert event.subject == participant.study_id

    def test_correction_without_changes_refused(self, make_participant, nurse):
        participant = make_participant()
        services.baseline_save(participant=participant, data=baseline_data(), by=nurse)
        with pytest.raises(ValidationError) as excinfo:
            services.baseline_save(
                participant=participant, data=baseline_data(), by=nurse, reason="checking"
            )
        assert excinfo.value.messages == [str(services.NOTHING_CHANGED)]


class TestStatusAndTrailNotes:
    def test_status_change_is_saved_with_who_and_why(self, make_participant, nurse):
        participant = make_participant()
        day = timezone.localdate()
        services.participant_status_set(
            participant=participant,
            status="withdrawn",
            status_date=day,
            reason="Withdrew consent by telephone",
            by=nurse,
        )
        saved = Participant.objects.get(pk=participant.pk)
        assert (saved.status, saved.status_date, saved.status_reason) == (
            "withdrawn",
            day,
            "Withdrew consent by telephone",
        )
        latest = saved.history.first()
        assert latest.history_user == nurse
        assert latest.history_change_reason == "Withdrew consent by telephone"
        event = AuditEvent.objects.filter(model="trial.Participant").order_by("-sequence")[0]
        assert event.action == AuditEvent.Action.UPDATE
        assert event.reason == "Withdrew consent by telephone"
        assert event.changes["status"] == ["on_study", "withdrawn"]
        assert event.subject == participant.study_id

    def test_status_change_saves_only_the_status(self, make_participant, nurse):
        participant = make_participant()
        participant.signed_form_filed = False  # an unsaved edit elsewhere on the object
        services.participant_status_set(
            participant=participant,
            status="completed",
            status_date=timezone.localdate(),
            reason="Completed",
            by=nurse,
        )
        assert Participant.objects.get(pk=participant.pk).signed_form_filed is True

    def test_audit_export_is_noted_in_the_trail(self, datamanager):
        services.audit_export_record(by=datamanager, query="model=trial.Baseline")
        event = AuditEvent.objects.order_by("-sequence")[0]
        assert (event.user, event.username, event.action, event.model) == (
            datamanager,
            "datamanager",
            AuditEvent.Action.EVENT,
            "trial.AuditEvent",
        )
        assert event.summary == "Audit trail exported as CSV"
        assert event.changes == {"filters": "model=trial.Baseline"}

    @pytest.mark.parametrize(
        ("enrolled", "summary"),
        [(True, "Authenticator enrolled"), (False, "Second factor verified")],
    )
    def test_second_factor_is_noted_in_the_trail(self, dsmb, enrolled, summary):
        services.second_factor_record(user=dsmb, enrolled=enrolled)
        event = AuditEvent.objects.order_by("-sequence")[0]
        assert (event.user, event.username, event.action, event.model, event.summary) == (
            dsmb,
            "dsmb",
            AuditEvent.Action.EVENT,
            "auth.TwoFactor",
            summary,
        )

    @pytest.mark.parametrize("language", ["en", "zh-hans", ""])
    def test_language_is_saved_on_the_profile(self, nurse, language):
        from trial.models import UserProfile

        services.user_language_set(user=nurse, language=language)
        assert UserProfile.objects.get(user=nurse).language == language

    def test_language_of_someone_without_a_profile_makes_one(self, db):
        from django.contrib.auth import get_user_model

        from trial.models import UserProfile

        user = get_user_model().objects.create_user(username="newcomer", password="x-12345678")
        services.user_language_set(user=user, language="zh-hans")
        assert UserProfile.objects.get(user=user).language == "zh-hans"

    def test_unknown_language_is_refused_on_its_field(self, nurse):
        from trial.models import UserProfile

        with pytest.raises(ValidationError) as excinfo:
            services.user_language_set(user=nurse, language="fr")
        assert errors_of(excinfo) == {"language": ["Choose English or 中文."]}
        assert UserProfile.objects.get(user=nurse).language == ""

    def test_baseline_version_goes_stale_when_the_record_changes(self, make_participant, nurse):
        from trial.versions import StaleEdit

        participant = make_participant()
        services.baseline_save(participant=participant, data=baseline_data(), by=nurse)
        opened = services.baseline_version(Baseline.objects.get())
        assert services.baseline_version(Baseline.objects.get()) == opened
        services.baseline_save(
            participant=participant,
            data=baseline_data(weight_kg=Decimal("61.5")),
            by=nurse,
            reason="Scale read 61.5",
            version=opened,
        )
        with pytest.raises(StaleEdit) as excinfo:
            services.baseline_save(
                participant=participant,
                data=baseline_data(height_cm=Decimal("158.0")),
                by=nurse,
                reason="Height re-measured",
                version=opened,
            )
        assert [(c.field, c.then, c.now) for c in excinfo.value.changes] == [
            ("weight_kg", "60.0", "61.5")
        ]


class TestDecline:
    def test_decline_keeps_the_date_and_who(self, make_screening, nurse):
        screening = make_screening()  # screened two days ago
        day = screening.screening_date + timedelta(days=1)
        services.screening_decline(
            screening=screening, declined_on=day, reason="  Lives far away ", by=nurse
        )
        screening.refresh_from_db()
        assert (screening.declined_on, screening.decline_reason) == (day, "Lives far away")
        latest = screening.history.first()
        assert latest.history_user == nurse
        assert latest.history_change_reason == "Lives far away"

    def test_decline_may_be_dated_today(self, make_screening, nurse):
        screening = make_screening()
        today = timezone.localdate()
        services.screening_decline(screening=screening, declined_on=today, reason="No", by=nurse)
        screening.refresh_from_db()
        assert screening.declined_on == today

    @pytest.mark.parametrize(
        ("days_from_screening", "message"),
        [(-1, services.DECLINE_BEFORE_SCREENING), (3, services.DECLINE_IN_FUTURE)],
    )
    def test_decline_date_rules(self, make_screening, nurse, days_from_screening, message):
        screening = make_screening()  # screened two days ago: +3 is tomorrow
        with pytest.raises(ValidationError) as excinfo:
            services.screening_decline(
                screening=screening,
                declined_on=screening.screening_date + timedelta(days=days_from_screening),
                reason="No",
                by=nurse,
            )
        assert errors_of(excinfo) == {"declined_on": [str(message)]}
        screening.refresh_from_db()
        assert screening.consent_status == Screening.ConsentStatus.PENDING

    def test_decline_reason_and_date_errors_come_together(self, make_screening, nurse):
        screening = make_screening()
        with pytest.raises(ValidationError) as excinfo:
            services.screening_decline(
                screening=screening,
                declined_on=screening.screening_date - timedelta(days=1),
                reason="",
                by=nurse,
            )
        assert errors_of(excinfo) == {
            "reason": [str(services.DECLINE_REASON_REQUIRED)],
            "declined_on": [str(services.DECLINE_BEFORE_SCREENING)],
        }

    def test_ineligible_cannot_decline(self, make_screening, nurse):
        screening = make_screening(answers={**screening_input().answers, "excl_unwilling": True})
        with pytest.raises(ValidationError) as excinfo:
            services.screening_decline(
                screening=screening, declined_on=screening.screening_date, reason="No", by=nurse
            )
        assert excinfo.value.messages == [str(services.NOT_ELIGIBLE_FOR_CONSENT)]

    def test_decline_twice_refused(self, make_screening, nurse):
        screening = make_screening()
        services.screening_decline(
            screening=screening, declined_on=screening.screening_date, reason="No", by=nurse
        )
        with pytest.raises(ValidationError) as excinfo:
            services.screening_decline(
                screening=screening, declined_on=screening.screening_date, reason="No", by=nurse
            )
        assert excinfo.value.messages == [str(services.ALREADY_DECIDED)]


class TestBaselineEdges:
    @pytest.mark.parametrize("vas", [0, 100])
    def test_vas_edges_accepted(self, make_participant, nurse, vas):
        baseline = services.baseline_save(
            participant=make_participant(), data=baseline_data(preop_vas_mm=vas), by=nurse
        )
        assert Baseline.objects.get(pk=baseline.pk).preop_vas_mm == vas

    def test_comorbidities_listed_with_comorbidity_are_kept(self, make_participant, nurse):
        baseline = services.baseline_save(
            participant=make_participant(),
            data=baseline_data(comorbidity=True, comorbidity_list=" Asthma, diabetes "),
            by=nurse,
        )
        assert Baseline.objects.get(pk=baseline.pk).comorbidity_list == "Asthma, diabetes"

    def test_comorbidities_listed_without_comorbidity_refused(self, make_participant, nurse):
        with pytest.raises(ValidationError) as excinfo:
            services.baseline_save(
                participant=make_participant(),
                data=baseline_data(comorbidity=False, comorbidity_list="Asthma"),
                by=nurse,
            )
        assert errors_of(excinfo) == {
            "comorbidity_list": [str(services.COMORBIDITY_LIST_WITHOUT_COMORBIDITY)]
        }

    def test_procedure_on_the_screening_date_accepted(self, make_participant, nurse):
        participant = make_participant()
        day = participant.screening.screening_date
        baseline = services.baseline_save(
            participant=participant, data=baseline_data(procedure_date=day), by=nurse
        )
        assert baseline.procedure_date == day

    def test_procedure_before_screening_says_so_on_its_field(self, make_participant, nurse):
        participant = make_participant()
        with pytest.raises(ValidationError) as excinfo:
            services.baseline_save(
                participant=participant,
                data=baseline_data(
                    procedure_date=participant.screening.screening_date - timedelta(days=1)
                ),
                by=nurse,
            )
        assert errors_of(excinfo) == {"procedure_date": [str(services.PROCEDURE_DATE_TOO_EARLY)]}


class TestConsentDetails:
    def _consent(self, screening, consent_form, nurse, **overrides):
        values = {
            "screening": screening,
            "consent_date": screening.screening_date,
            "form_version": consent_form,
            "signed_form_filed": True,
            "by": nurse,
        }
        values.update(overrides)
        return services.participant_consent(**values)

    def test_consent_may_be_dated_today(self, make_screening, consent_form, nurse):
        today = timezone.localdate()
        participant = self._consent(make_screening(), consent_form, nurse, consent_date=today)
        assert (participant.consent_date, participant.status_date) == (today, today)

    def test_participant_answers_in_chinese_unless_told_otherwise(
        self, make_screening, consent_form, nurse
    ):
        assert self._consent(make_screening(), consent_form, nurse).language == "zh-hans"
        english = self._consent(make_screening(), consent_form, nurse, language="en")
        assert Participant.objects.get(pk=english.pk).language == "en"

    def test_consent_names_who_enrolled_and_why_the_screening_changed(
        self, make_screening, consent_form, nurse
    ):
        screening = make_screening()
        participant = self._consent(screening, consent_form, nurse)
        assert participant.consent_taken_by == nurse
        assert participant.history.get().history_user == nurse
        latest = Screening.objects.get(pk=screening.pk).history.first()
        assert latest.history_user == nurse
        assert latest.history_change_reason == f"Consented as {participant.study_id}"
        assert screening.consent_status == Screening.ConsentStatus.CONSENTED  # refreshed

    @pytest.mark.parametrize(
        ("change", "field", "message"),
        [
            ("retired_form", "form_version", services.CONSENT_FORM_NOT_IN_USE),
            ("not_filed", "signed_form_filed", services.SIGNED_FORM_NOT_FILED),
        ],
    )
    def test_consent_form_errors_say_why(
        self, make_screening, consent_form, nurse, change, field, message
    ):
        if change == "retired_form":
            consent_form.active = False
            consent_form.save()
        overrides = {"signed_form_filed": False} if change == "not_filed" else {}
        with pytest.raises(ValidationError) as excinfo:
            self._consent(make_screening(), consent_form, nurse, **overrides)
        assert errors_of(excinfo) == {field: [str(message)]}


class TestActor:
    def test_nobody_may_not_act(self, make_screening):
        screening = make_screening()
        with pytest.raises(PermissionDenied) as excinfo:
            services.screening_decline(
                screening=screening, declined_on=screening.screening_date, reason="No", by=None
            )
        assert str(excinfo.value) == str(services.NOT_ALLOWED)

    def test_an_inactive_nurse_may_not_act(self, make_screening, nurse):
        screening = make_screening()
        nurse.is_active = False
        with pytest.raises(PermissionDenied):
            services.screening_decline(
                screening=screening, declined_on=screening.screening_date, reason="No", by=nurse
            )

    def test_unknown_baseline_fields_are_a_programming_error(self, make_participant, nurse):
        with pytest.raises(ValueError) as excinfo:
            services.baseline_save(
                participant=make_participant(),
                data={**baseline_data(), "shoe_size": 38, "eye_colour": "brown"},
                by=nurse,
            )
        assert str(excinfo.value) == "Unknown baseline fields: ['eye_colour', 'shoe_size']"


class TestScreeningDetails:
    def test_procedure_and_evidence_on_the_screening_date_accepted(self, make_screening):
        day = timezone.localdate() - timedelta(days=2)
        screening = make_screening(
            screening_date=day,
            scheduled_procedure_date=day,
            evidence_dates={"excl_pregnancy": day, "excl_medication": day - timedelta(days=30)},
        )
        assert screening.scheduled_procedure_date == day
        assert screening.excl_pregnancy_date == day
        assert screening.excl_medication_date == day - timedelta(days=30)
        assert screening.excl_unwilling_date == day  # none given: the screening date

    def test_procedure_before_screening_says_so_on_its_field(self, site, nurse):
        data = screening_input()
        with pytest.raises(ValidationError) as excinfo:
            services.screening_record(
                site=site,
                data=screening_input(
                    scheduled_procedure_date=data.screening_date - timedelta(days=1)
                ),
                by=nurse,
            )
        assert errors_of(excinfo) == {
            "scheduled_procedure_date": [str(services.PROCEDURE_BEFORE_SCREENING)]
        }

    @override_settings(ELIGIBLE_AGE_MIN=21, ELIGIBLE_AGE_MAX=60)
    @pytest.mark.parametrize(
        ("age", "eligible"), [(20, False), (21, True), (60, True), (61, False)]
    )
    def test_age_limits_come_from_the_settings(self, make_screening, age, eligible):
        today = timezone.localdate()
        screening = make_screening(
            screening_date=today, date_of_birth=today.replace(year=today.year - age, month=1, day=1)
        )
        assert (screening.age_at_screening, screening.eligible) == (age, eligible)

    @override_settings(SCREENING_ID_FORMAT="{site}/{prefix}-{number:05d}")
    def test_screening_id_format_is_configurable(self, make_screening):
        assert make_screening().screening_id == "changsha/MLT-00001"

    def test_initials_are_stored_in_capitals(self, make_screening):
        assert make_screening(initials=" lx ").initials == "LX"


procedure_date_calls: list[tuple] = []


def record_procedure_date(*, participant, procedure_date, by) -> None:
    """A stand-in for the follow-up schedule: what baseline_save tells later apps."""
    procedure_date_calls.append((participant.pk, procedure_date, by))


class TestProcedureDateHooks:
    @override_settings(PROCEDURE_DATE_HOOKS=["trial.tests.test_services.record_procedure_date"])
    def test_later_apps_hear_of_each_new_procedure_date(self, make_participant, nurse):
        procedure_date_calls.clear()
        participant = make_participant()
        day = participant.screening.screening_date
        services.baseline_save(
            participant=participant, data=baseline_data(procedure_date=day), by=nurse
        )
        assert procedure_date_calls == [(participant.pk, day, nurse)]
        services.baseline_save(
            participant=participant,
            data=baseline_data(procedure_date=day, weight_kg=Decimal("61.0")),
            by=nurse,
            reason="Weight re-measured",
        )
        assert len(procedure_date_calls) == 1  # same procedure date: nothing to reschedule
        later = day + timedelta(days=1)
        services.baseline_save(
            participant=participant,
            data=baseline_data(procedure_date=later, weight_kg=Decimal("61.0")),
            by=nurse,
            reason="Surgery moved",
        )
        assert procedure_date_calls[1:] == [(participant.pk, later, nurse)]


class TestNulInReasons:
    def test_nul_in_an_override_reason_is_refused_on_its_field(self, site, investigator):
        with pytest.raises(ValidationError) as excinfo:
            services.screening_record(
                site=site,
                data=screening_input(duplicate_override_reason="different\x00person"),
                by=investigator,
            )
        assert errors_of(excinfo) == {"duplicate_override_reason": [str(NUL_REFUSED)]}

    def test_nul_in_the_comorbidity_list_is_refused_on_its_field(self, make_participant, nurse):
        with pytest.raises(ValidationError) as excinfo:
            services.baseline_save(
                participant=make_participant(),
                data=baseline_data(comorbidity=True, comorbidity_list="Asthma\x00"),
                by=nurse,
            )
        assert errors_of(excinfo) == {"comorbidity_list": [str(NUL_REFUSED)]}


def test_a_number_enrolled_at_another_site_may_be_screened_here(
    make_participant, other_site, site, nurse, investigator
):
    from trial.models import UserProfile

    make_participant(hospital_number="H-900")  # enrolled at the nurse's site
    UserProfile.objects.get(user=nurse).sites.add(other_site)
    elsewhere = services.screening_record(
        site=other_site, data=screening_input(hospital_number="H-900"), by=nurse
    )
    assert elsewhere.eligible and elsewhere.rescreen_of is None


class TestScreeningOfTheSameNumber:
    def test_born_on_the_screening_date_refused_on_its_field(self, site, nurse):
        day = timezone.localdate() - timedelta(days=2)
        with pytest.raises(ValidationError) as excinfo:
            services.screening_record(
                site=site, data=screening_input(screening_date=day, date_of_birth=day), by=nurse
            )
        assert errors_of(excinfo) == {"date_of_birth": [str(services.BIRTH_AFTER_SCREENING)]}

    def test_an_override_reason_of_spaces_is_refused_on_its_field(self, site, investigator):
        with pytest.raises(ValidationError) as excinfo:
            services.screening_record(
                site=site, data=screening_input(duplicate_override_reason="  "), by=investigator
            )
        assert errors_of(excinfo) == {
            "duplicate_override_reason": [str(services.OVERRIDE_REASON_REQUIRED)]
        }

    def test_an_override_is_its_own_audit_line_and_history_reason(
        self, make_participant, site, investigator
    ):
        enrolled = make_participant(hospital_number="H-901")
        reason = "Hospital number reissued to a different patient"
        screening = services.screening_record(
            site=site,
            data=screening_input(hospital_number="H-901", duplicate_override_reason=reason),
            by=investigator,
        )
        assert (screening.duplicate_override_reason, screening.duplicate_override_by) == (
            reason,
            investigator,
        )
        assert screening.history.get().history_change_reason == reason
        line = AuditEvent.objects.get(summary__startswith="One-person-one-study-id")
        assert (line.user, line.model, line.object_id, line.subject, line.reason) == (
            investigator,
            "trial.Screening",
            str(screening.pk),
            screening.screening_id,
            reason,
        )
        assert line.summary == (
            "One-person-one-study-id rule overridden: hospital number enrolled as "
            f"{enrolled.study_id}"
        )

    def test_an_ordinary_screening_carries_no_override(self, make_screening):
        screening = make_screening()
        assert (screening.duplicate_override_reason, screening.duplicate_override_by) == ("", None)
        assert not AuditEvent.objects.filter(summary__startswith="One-person").exists()

    def test_a_rescreening_links_the_latest_earlier_screening(self, site, nurse):
        today = timezone.localdate()
        older, newer = (
            services.screening_record(
                site=site,
                data=screening_input(
                    hospital_number="H-902",
                    screening_date=today - timedelta(days=days),
                    rescreen_confirmed=True,
                    answers={**screening_input().answers, "excl_unwilling": True},
                ),
                by=nurse,
            )
            for days in (20, 10)
        )
        # Entered after the newer one, but dated before it: the link follows the dates.
        services.screening_record(
            site=site,
            data=screening_input(
                hospital_number="H-902",
                screening_date=today - timedelta(days=15),
                rescreen_confirmed=True,
                answers={**screening_input().answers, "excl_unwilling": True},
            ),
            by=nurse,
        )
        latest = services.screening_record(
            site=site,
            data=screening_input(hospital_number="h-902", rescreen_confirmed=True),
            by=nurse,
        )
        assert latest.rescreen_of == newer
        assert older.rescreen_of is None

    def test_an_override_without_an_enrolled_twin_is_not_recorded(self, site, investigator):
        screening = services.screening_record(
            site=site,
            data=screening_input(hospital_number="H-903", duplicate_override_reason="Just in case"),
            by=investigator,
        )
        assert (screening.duplicate_override_reason, screening.duplicate_override_by) == ("", None)
