"""A nurse fills a PSQI in a real Chromium, bed time crossing midnight, and sees the score."""

import pytest
from django.utils import timezone

from conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_nurse_fills_psqi_across_midnight_and_sees_global_score(page, nurse, make_participant):
    participant = make_participant()
    login(page, "nurse")
    page.goto(f"/participants/{participant.study_id}/")
    page.get_by_test_id("questionnaire-panel").get_by_role("link", name="enter").nth(3).click()
    page.wait_for_url("**/baseline/psqi/enter/")
    page.get_by_label("Administered on").fill(timezone.localdate().isoformat())
    page.get_by_label("1 Usual bed time").fill("23:30")
    page.get_by_label("2 Minutes to fall asleep").fill("20")
    page.get_by_label("3 Usual getting-up time").fill("06:30")
    page.get_by_label("4 Hours of actual sleep per night").fill("6")
    page.get_by_label("and minutes", exact=True).fill("0")

    def rate(key: str, value: int) -> None:
        page.locator(f"#div_id_{key}").locator(f"input[value='{value}']").check()

    ratings = {
        "psqi_5a": 1,
        "psqi_5b": 1,
        "psqi_5c": 0,
        "psqi_5d": 0,
        "psqi_5e": 0,
        "psqi_5f": 0,
        "psqi_5g": 0,
        "psqi_5h": 0,
        "psqi_5i": 2,
        "psqi_6": 1,
        "psqi_7": 0,
        "psqi_8": 0,
        "psqi_9": 1,
    }
    for key, value in ratings.items():
        rate(key, value)
    page.get_by_role("button", name="Save and score").click()
    page.wait_for_url("**/baseline/psqi/")
    scores = page.get_by_test_id("scores")
    # c1 1, c2 1 (20 min + 5a 1), c3 1 (6 h), c4 0 (7 h in bed across midnight: 85.7 %),
    # c5 1 (5b..5j sum 3), c6 0, c7 1: global 5.
    assert scores.locator("[data-score='c4']").inner_text() == "0"
    assert scores.locator("[data-score='global']").inner_text() == "5"
    assert scores.locator("[data-score='poor_sleeper']").inner_text() == "no"
