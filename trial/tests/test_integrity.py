"""Data integrity by construction: no lost update, one person one study id, services
that check their actor, reasons that say something, and no server error on ordinary
input. Each test is a hole found in review, shown closed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from conftest import baseline_data, make_user, screening_input
from trial import services
from trial.models import AuditEvent, Baseline, Participant, Screening
from trial.versions import StaleEdit

pytestmark = pytest.mark.django_db


# --- two tabs ---------------------------------------------------------------------------


@pytest.fixture
def with_baseline(make_participant, nurse):
    participant = make_participant()
    services.baseline_save(participant=participant, data=baseline_data(), by=nurse)
    return participant


def test_two_tabs_the_older_save_is_refused_and_says_what_changed(with_baseline, nurse):
    baseline = Baseline.objects.get(participant=with_baseline)
    old_tab = services.baseline_version(baseline)  # both tabs opened now
    services.baseline_save(
        participant=with_baseline,
        data=baseline_data(weight_kg=Decimal("65.0")),
        by=nurse,
        reason="Re-weighed",
        version=old_tab,
    )
    with pytest.raises(StaleEdit) as excinfo:
        services.baseline_save(
            participant=with_baseline,
            data=baseline_data(height_cm=Decimal("158.0")),  # weight as it was loaded: 60
            by=nurse,
            reason="Height re-measured",
            version=old_tab,
        )
    assert [(c.field, c.then, c.now) for c in excinfo.value.changes] == [
        ("weight_kg", "60.0", "65.0")
    ]
    baseline.refresh_from_db()
    assert (baseline.weight_kg, baseline.height_cm) == (Decimal("65.0"), Decimal("160.0"))


def test_two_tabs_in_the_browser_form_keeps_what_was_typed(client, with_baseline, nurse):
    client.force_login(nurse)
    url = reverse("baseline_edit", args=[with_baseline.study_id])
    first_tab = client.get(url).context["form"].initial
    second_tab = dict(first_tab)

    def post(tab, **changes):
        data = {
            **{k: v for k, v in tab.items() if v is not None},
            "procedure_date": tab["procedure_date"].isoformat(),
            **changes,
        }
        return client.post(url, data)

    assert post(first_tab, weight_kg="65.0", reason="Re-weighed").status_code == 302
    response = post(second_tab, height_cm="158.0", reason="Height re-measured")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Someone saved this record after you opened the form" in body
    assert "Weight (kg): 60.0 → 65.0" in body
    form = response.context["form"]
    assert form["height_cm"].value() == "158.0"  # what was typed is still there
    assert form["version"].value() != second_tab["version"]  # fresh: saving again is deliberate
    baseline = Baseline.objects.get(participant=with_baseline)
    assert baseline.weight_kg == Decimal("65.0") and baseline.height_cm == Decimal("160.0")
    again = client.post(
        url,
        {
            **{k: v for k, v in form.data.items()},
            "weight_kg": "65.0",
        },
    )
    assert again.status_code == 302
    baseline.refresh_from_db()
    assert (baseline.weight_kg, baseline.height_cm) == (Decimal("65.0"), Decimal("158.0"))


def test_a_correction_posted_without_its_version_is_refused(client, with_baseline, nurse):
    with pytest.raises(ValidationError) as excinfo:
        services.baseline_save(
            participant=with_baseline,
            data=baseline_data(weight_kg=Decimal("70.0")),
            by=nurse,
            reason="x",
            version="",
        )
    assert excinfo.value.code == "version_missing"


# --- one person, one study id -----------------------------------------------------------------


def test_an_enrolled_hospital_number_cannot_be_screened_again(make_participant, site, nurse):
    enrolled = make_participant(hospital_number="H-777")
    for number in ("H-777", "h-777", " H-777 "):
        with pytest.raises(ValidationError) as excinfo:
            services.screening_record(
                site=site,
                data=screening_input(hospital_number=number, rescreen_confirmed=True),
                by=nurse,
            )
        assert enrolled.study_id in excinfo.value.error_dict["hospital_number"][0].message


def test_the_database_refuses_a_second_consent_of_the_same_person(
    make_participant, make_screening, site
):
    make_participant(hospital_number="H-778")
    twin = make_screening(hospital_number="H-779")
    with pytest.raises(IntegrityError), transaction.atomic():
        # Whatever a service, an import or a shell does, the same number cannot be
        # consented twice at a site.
        Screening.objects.filter(pk=twin.pk).update(hospital_number="h-778")
        Screening.objects.filter(pk=twin.pk).update(consent_status="consented")


def test_consent_refuses_a_second_screening_of_an_enrolled_number(
    make_screening, consent_form, nurse, site
):
    first = make_screening(hospital_number="H-780")
    second = services.screening_record(
        site=site,
        data=screening_input(hospital_number="H-780", rescreen_confirmed=True),
        by=nurse,
    )  # screened twice while neither was consented: allowed, linked
    assert second.rescreen_of == first
    services.participant_consent(
        screening=first,
        consent_date=first.screening_date,
        form_version=consent_form,
        signed_form_filed=True,
        by=nurse,
    )
    with pytest.raises(ValidationError) as excinfo:
        services.participant_consent(
            screening=second,
            consent_date=second.screening_date,
            form_version=consent_form,
            signed_form_filed=True,
            by=nurse,
        )
    assert "one person has one study id" in excinfo.value.messages[0]
    assert Participant.objects.filter(screening__hospital_number="H-780").count() == 1


def test_rescreening_a_screen_failure_needs_confirmation_and_is_linked(site, nurse):
    failed = services.screening_record(
        site=site,
        data=screening_input(
            hospital_number="H-781",
            answers={**screening_input().answers, "excl_other_trial": True},
        ),
        by=nurse,
    )
    assert not failed.eligible
    with pytest.raises(ValidationError) as excinfo:
        services.screening_record(
            site=site, data=screening_input(hospital_number="H-781"), by=nurse
        )
    assert "confirm_duplicate" in excinfo.value.error_dict  # the rule is the service's
    again = services.screening_record(
        site=site, data=screening_input(hospital_number="H-781", rescreen_confirmed=True), by=nurse
    )
    assert again.rescreen_of == failed and again.eligible


def test_an_investigator_override_needs_a_reason_and_is_audited(
    make_participant, site, investigator, nurse, consent_form
):
    make_participant(hospital_number="H-782")
    with pytest.raises(PermissionDenied):
        services.screening_record(
            site=site,
            data=screening_input(hospital_number="H-782", duplicate_override_reason="Reissued"),
            by=nurse,  # a nurse may not override
        )
    with pytest.raises(ValidationError):
        services.screening_record(
            site=site,
            data=screening_input(hospital_number="H-782", duplicate_override_reason="\u200b"),
            by=investigator,
        )
    screening = services.screening_record(
        site=site,
        data=screening_input(
            hospital_number="H-782",
            duplicate_override_reason="Hospital number reissued to a different patient",
        ),
        by=investigator,
    )
    assert screening.duplicate_override_by == investigator
    line = AuditEvent.objects.get(summary__startswith="One-person-one-study-id rule overridden")
    assert line.reason == "Hospital number reissued to a different patient"
    participant = services.participant_consent(
        screening=screening,
        consent_date=screening.screening_date,
        form_version=consent_form,
        signed_form_filed=True,
        by=nurse,
    )
    assert participant.study_id


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_postgres")
def test_two_nurses_consenting_the_same_person_at_once_give_one_study_id(site, nurse, consent_form):
    import threading

    from django.db import connection

    first = services.screening_record(
        site=site, data=screening_input(hospital_number="H-790"), by=nurse
    )
    second = services.screening_record(
        site=site, data=screening_input(hospital_number="H-790", rescreen_confirmed=True), by=nurse
    )
    barrier = threading.Barrier(2)
    outcomes = []

    def consent(screening):
        try:
            barrier.wait()
            services.participant_consent(
                screening=screening,
                consent_date=screening.screening_date,
                form_version=consent_form,
                signed_form_filed=True,
                by=nurse,
            )
            outcomes.append("consented")
        except ValidationError as error:
            outcomes.append(error.messages[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=consent, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 2 and outcomes.count("consented") == 1
    refused = next(outcome for outcome in outcomes if outcome != "consented")
    assert "one person has one study id" in refused
    assert Participant.objects.filter(screening__hospital_number="H-790").count() == 1


# --- services check their actor ------------------------------------------------------------


@pytest.mark.parametrize("role", ["blinded_assessor", "data_manager", "dsmb", "investigator"])
def test_trial_services_check_the_actors_permission(site, role, make_screening, consent_form):
    actor = make_user(f"actor_{role}", role, sites=[site])
    with pytest.raises(PermissionDenied):
        services.screening_record(site=site, data=screening_input(), by=actor)
    screening = make_screening()
    with pytest.raises(PermissionDenied):
        services.participant_consent(
            screening=screening,
            consent_date=screening.screening_date,
            form_version=consent_form,
            signed_form_filed=True,
            by=actor,
        )
    with pytest.raises(PermissionDenied):
        services.screening_decline(
            screening=screening, declined_on=screening.screening_date, reason="No", by=actor
        )


def test_trial_services_check_the_actors_site(make_participant, other_site):
    outsider = make_user("outsider", "research_nurse", sites=[other_site])
    participant = make_participant()
    with pytest.raises(ValidationError) as excinfo:
        services.baseline_save(participant=participant, data=baseline_data(), by=outsider)
    assert excinfo.value.messages == [str(services.SITE_NOT_ALLOWED)]


def test_questionnaire_and_followup_services_check_the_site(make_participant, other_site):
    from followup import services as followup_services
    from questionnaires import services as q_services

    outsider = make_user("outsider2", "research_nurse", sites=[other_site])
    participant = make_participant()
    with pytest.raises(PermissionDenied):
        q_services.response_record(
            participant=participant,
            visit="baseline",
            instrument="phq9",
            answers={f"phq9_{n}": 0 for n in range(1, 10)},
            administration=q_services.Administration(
                administered_on=timezone.localdate(), mode="in_person"
            ),
            by=outsider,
        )
    with pytest.raises(PermissionDenied):
        followup_services.adverse_event_record(
            participant=participant,
            data={
                "term": "Headache",
                "onset_date": timezone.localdate(),
                "end_date": None,
                "severity": "mild",
                "serious": False,
                "sae_criteria": [],
                "relatedness": "possible",
                "action_taken": "none",
                "outcome": "recovered",
            },
            by=outsider,
        )


# --- reasons, long and invisible; NUL ------------------------------------------------------------


def test_a_long_reason_is_stored_whole(with_baseline, nurse):
    reason = "Re-weighed on the ward scale after the admission scale was found faulty; " * 8
    services.baseline_save(
        participant=with_baseline,
        data=baseline_data(weight_kg=Decimal("61.0")),
        by=nurse,
        reason=reason,
    )
    line = AuditEvent.objects.filter(model="trial.Baseline", action="update").latest("sequence")
    assert len(reason) > 500 and line.reason == reason.strip()
    history = Baseline.history.filter(participant=with_baseline).latest("history_id")
    assert history.history_change_reason == reason.strip()


@pytest.mark.parametrize(
    "reason", ["", "   ", "\u200b", "\u200b\u200c\u200d", "\ufeff", "\u2060\u00a0\t", "\u202e"]
)
def test_an_invisible_reason_is_refused(with_baseline, nurse, reason):
    with pytest.raises(ValidationError) as excinfo:
        services.baseline_save(
            participant=with_baseline,
            data=baseline_data(weight_kg=Decimal("61.0")),
            by=nurse,
            reason=reason,
        )
    assert "reason" in excinfo.value.error_dict


def test_a_long_reason_through_the_page_is_kept(client, with_baseline, nurse):
    client.force_login(nurse)
    url = reverse("baseline_edit", args=[with_baseline.study_id])
    initial = client.get(url).context["form"].initial
    data = {k: v for k, v in initial.items() if v is not None}
    data["procedure_date"] = initial["procedure_date"].isoformat()
    data.update(weight_kg="62.0", reason="x" * 300)
    response = client.post(url, data)
    assert response.status_code == 302
    assert AuditEvent.objects.filter(reason="x" * 300).exists()


@pytest.mark.parametrize(
    "path",
    [
        "/participants/?q=%00",
        "/participants/?q=ab%00cd",
        "/participants/%00/",
        "/participants/MLT-001%00/baseline/",
        "/screening/?outcome=%00",
        "/audit/?subject=%00",
        "/people/?q=%00",
    ],
)
def test_a_nul_in_an_address_or_search_is_a_message_not_a_server_error(
    client, datamanager, nurse, path
):
    client.raise_request_exception = True
    client.force_login(nurse if "people" not in path and "audit" not in path else datamanager)
    response = client.get(path)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_a_nul_in_a_posted_reason_is_a_field_error(client, with_baseline, nurse):
    client.force_login(nurse)
    url = reverse("baseline_edit", args=[with_baseline.study_id])
    initial = client.get(url).context["form"].initial
    data = {k: v for k, v in initial.items() if v is not None}
    data["procedure_date"] = initial["procedure_date"].isoformat()
    data.update(weight_kg="62.0", reason="bad\x00reason")
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert response.context["form"]["weight_kg"].value() == "62.0"


def test_screening_date_edge_cases_stay_messages(client, nurse):
    client.force_login(nurse)
    response = client.post(
        reverse("screening_new"),
        {"screening_date": (timezone.localdate() + timedelta(days=1)).isoformat()},
    )
    assert response.status_code == 200
