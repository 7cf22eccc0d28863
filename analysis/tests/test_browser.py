"""A DSMB member opens the dashboard and downloads the closed report, in a real Chromium."""

import pytest

from conftest import login
from trial.demo import seed_demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "demo-password-for-tests-1"


def test_dsmb_opens_dashboard_and_downloads_closed_report(page, tmp_path):
    seed_demo(password=PASSWORD, participants=12)  # transaction=True: tasks run on commit
    login(page, "dsmb", PASSWORD)
    page.get_by_role("link", name="DSMB dashboard").click()
    page.wait_for_url("**/dsmb/")
    assert page.get_by_test_id("consort").is_visible()
    assert "Computed" in page.get_by_test_id("computed-at").inner_text()
    assert page.locator(".figure svg").count() >= 8  # incidence, enrolment, seven outcomes
    page.get_by_role("button", name="Generate PDF report").click()
    page.wait_for_url("**/dsmb/**")
    link = page.get_by_test_id("reports").get_by_role("link")
    with page.expect_download() as download_info:
        link.first.click()
    download = download_info.value
    assert download.suggested_filename.startswith("dsmb-closed-report-")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    assert target.read_bytes().startswith(b"%PDF")
