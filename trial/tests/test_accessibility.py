"""Accessibility: axe-core finds no serious or critical problem on the main pages, and the
forms work with the keyboard alone."""

from pathlib import Path

import pytest

from conftest import login, require_component

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def axe_page(browser, live_server):
    """A page that lets the test inject axe (the site's CSP forbids inline scripts)."""
    require_component(AXE.exists(), "axe-core (npm install)")
    context = browser.new_context(base_url=live_server.url, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def test_main_pages_have_no_serious_accessibility_problems(
    axe_page, nurse, consent_form, make_participant
):
    page = axe_page
    participant = make_participant()
    page.goto("/accounts/login/")
    assert axe_violations(page) == []
    login(page, "nurse")
    for url in (
        "/",
        "/screening/new/",
        "/screening/",
        "/participants/",
        f"/participants/{participant.study_id}/",
        f"/participants/{participant.study_id}/baseline/",
        f"/participants/{participant.study_id}/questionnaires/baseline/psqi/enter/",
        f"/participants/{participant.study_id}/questionnaires/baseline/sf_mpq/enter/",
        "/followup/worklist/",
    ):
        page.goto(url)
        assert axe_violations(page) == [], url


def test_screening_form_with_the_keyboard_alone(page, nurse):
    login(page, "nurse")
    page.goto("/screening/new/")
    page.bring_to_front()
    page.focus("#id_initials")
    seen = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "document.activeElement.name || document.activeElement.id"
            " || document.activeElement.tagName"
        )
        seen.add(focused)
        if focused == "BODY":  # past the last control the focus leaves the page
            continue
        # A visible focus indicator on every focused control (outline or focus ring).
        style = page.evaluate(
            "(() => { const s = getComputedStyle(document.activeElement);"
            " return [s.outlineStyle, s.boxShadow]; })()"
        )
        assert style[0] != "none" or style[1] != "none", (focused, style)
    for name in ("hospital_number", "date_of_birth", "sex", "excl_unwilling", "save"):
        assert name in seen, name
