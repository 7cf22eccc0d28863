"""Services of the participant core: screening, consent, enrolment, study ids, baseline."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from conftest import baseline_data, make_user, screening_input
from trial import services
from trial.models import AuditEvent, Baseline, Participant, Screening, SequenceCounter

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
