"""A nurse working in Chinese screens, consents, randomizes and enters a PHQ-9 in Chinese."""

from datetime import timedelta

import pytest
from django.utils import timezone

from questionnaires.models import Response
from randomization.models import Allocation
from trial.models import UserProfile

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_nurse_in_chinese_from_screening_to_phq9(page, nurse, consent_form, active_list):
    UserProfile.objects.filter(user=nurse).update(language="zh-hans")
    page.goto("/accounts/login/")
    page.fill("#id_username", "nurse")
    page.fill("#id_password", "correct-horse-battery-staple-42")
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"

    today = timezone.localdate()
    page.goto("/screening/new/")
    assert "筛选" in page.locator("h1").inner_text()
    page.fill("#id_initials", "ZL")
    page.fill("#id_hospital_number", "Z1001")
    page.fill("#id_date_of_birth", "1975-02-03")
    page.check("#id_sex_0")
    page.check("#id_confirmed_diagnosis_0")
    page.fill("#id_scheduled_procedure_date", (today + timedelta(days=2)).isoformat())
    for key in (
        "excl_pregnancy",
        "excl_psychiatric",
        "excl_severe_disease",
        "excl_medication",
        "excl_mlt_allergy",
        "excl_other_trial",
        "excl_unwilling",
    ):
        page.check(f"#id_{key}_1")
    page.click("input[name=save]")
    page.wait_for_url("**/screening/*/")
    page.select_option("#id_form_version", label=consent_form.version)
    page.check("#id_signed_form_filed")
    page.click("input[name=consent]")
    page.wait_for_url("**/participants/MLT-001/")

    page.goto("/participants/MLT-001/baseline/")
    page.fill("#id_height_cm", "160")
    page.fill("#id_weight_kg", "58")
    page.check("#id_comorbidity_1")
    page.check("#id_surgical_site_0")
    page.fill("#id_preop_vas_mm", "20")
    page.check("#id_procedure_type_0")
    page.fill("#id_procedure_date", (today + timedelta(days=2)).isoformat())
    page.select_option("#id_chemo_regimen", "C+T")
    for key in ("radiotherapy", "hormone_therapy", "targeted_therapy"):
        page.check(f"#id_{key}_1")
    page.click("input[name=save]")
    page.wait_for_url("**/participants/MLT-001/")

    page.goto("/participants/MLT-001/randomize/")
    page.check("#id_eligibility_reconfirmed")
    page.click("input[name=randomize]")
    page.wait_for_url("**/participants/MLT-001/")
    message = page.locator("main .alert").first.inner_text()
    assert "001" in message and "MLT-001" in message
    assert "PLACEBO" not in page.content()
    assert Allocation.objects.get().pack_code == "001"

    page.goto("/participants/MLT-001/questionnaires/baseline/phq9/enter/")
    assert "做事时提不起劲或没有兴趣" in page.content()
    for n in range(1, 10):
        page.check(f"#id_phq9_{n}_{1 if n == 2 else 0}")
    page.click("input[name=save]")
    page.wait_for_url("**/baseline/phq9/")
    assert page.locator("[data-score='total']").inner_text() == "1"
    response = Response.objects.get()
    assert response.language == "zh-hans"
