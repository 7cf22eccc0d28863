"""The nurse in a real Chromium: screen, consent, baseline; and an ineligible screen."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import login
from trial.models import Baseline, Participant, Screening

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill_screening(page, *, hospital_number, date_of_birth, exclusions=()):
    today = timezone.localdate()
    page.goto("/screening/new/")
    page.get_by_label("Initials").fill("WX")
    page.get_by_label("Hospital number").fill(hospital_number)
    page.get_by_label("Date of birth").fill(date_of_birth)
    page.locator("#div_id_sex").get_by_label("Female").check()
    page.locator("#div_id_confirmed_diagnosis").get_by_label("Yes").check()
    page.get_by_label("Scheduled procedure date").fill((today + timedelta(days=3)).isoformat())
    for key in (
        "excl_pregnancy",
        "excl_psychiatric",
        "excl_severe_disease",
        "excl_medication",
        "excl_mlt_allergy",
        "excl_other_trial",
        "excl_unwilling",
    ):
        answer = "Yes" if key in exclusions else "No"
        page.locator(f"#div_id_{key}").get_by_label(answer, exact=True).check()
    page.get_by_role("button", name="Record screening").click()


def test_nurse_screens_consents_and_enters_baseline(page, nurse, consent_form):
    login(page, "nurse")
    fill_screening(page, hospital_number="H777", date_of_birth="1972-04-18")
    page.wait_for_url("**/screening/*/")
    assert "Eligible." in page.locator("main").inner_text()

    page.get_by_label("Consent form version").select_option(label=consent_form.version)
    page.get_by_label("The signed consent form is filed").check()
    page.get_by_role("button", name="Record consent and enrol").click()
    page.wait_for_url("**/participants/MLT-001/")
    assert "The participant's study id is MLT-001" in page.locator("main").inner_text()

    page.get_by_role("link", name="Enter the baseline form").click()
    page.get_by_label("Height (cm)").fill("158")
    page.get_by_label("Weight (kg)").fill("55.5")
    page.locator("#div_id_comorbidity").get_by_label("Yes").check()
    page.get_by_label("Co-morbidities").fill("Hypertension")
    page.locator("#div_id_surgical_site").get_by_label("Left").check()
    # The VAS line has no mark until the nurse places it; clicking at 40 % gives 40 mm.
    mark = page.locator("[data-vas-mark]")
    assert mark.is_hidden()
    line = page.locator("[data-vas-line]")
    box = line.bounding_box()
    line.click(position={"x": box["width"] * 0.40, "y": box["height"] / 2})
    assert page.get_by_label("Preoperative pain (VAS, mm)").input_value() == "40"
    assert mark.is_visible()
    page.locator("#div_id_procedure_type").get_by_label("Mastectomy").check()
    page.get_by_label("Procedure date").fill((timezone.localdate() + timedelta(days=3)).isoformat())
    page.get_by_label("Planned postoperative chemotherapy").select_option("C+A+T")
    page.locator("#div_id_radiotherapy").get_by_label("Yes").check()
    page.locator("#div_id_hormone_therapy").get_by_label("No").check()
    page.locator("#div_id_targeted_therapy").get_by_label("No").check()
    page.get_by_role("button", name="Save baseline").click()
    page.wait_for_url("**/participants/MLT-001/")
    text = page.locator("main").inner_text()
    assert "Baseline form saved." in text
    assert "22.2" in text  # BMI 55.5 / 1.58²

    baseline = Baseline.objects.get()
    assert baseline.preop_vas_mm == 40
    assert baseline.comorbidity_list == "Hypertension"
    assert Participant.objects.get().study_id == "MLT-001"


def test_nurse_sees_why_a_patient_is_not_eligible(page, nurse):
    login(page, "nurse")
    fill_screening(
        page,
        hospital_number="H778",
        date_of_birth="1940-01-01",
        exclusions=("excl_medication",),
    )
    page.wait_for_url("**/screening/*/")
    reasons = page.get_by_test_id("failed-criteria").inner_text()
    assert "Age below 18 or over 70 years" in reasons
    assert "Previous analgesic, antiepileptic or antidepressant medication" in reasons
    assert "Record consent" not in page.locator("main").inner_text()
    screening = Screening.objects.get()
    assert screening.failed_criteria == ["excl_age", "excl_medication"]


def test_keyboard_alone_can_enter_the_vas(page, nurse, make_participant):
    participant = make_participant()
    login(page, "nurse")
    page.goto(f"/participants/{participant.study_id}/baseline/")
    vas = page.get_by_label("Preoperative pain (VAS, mm)")
    vas.focus()
    page.keyboard.type("65")
    assert page.locator("[data-vas-mark]").is_visible()
    assert "65%" in page.locator("[data-vas-mark]").get_attribute("style")
