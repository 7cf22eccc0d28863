"""Follow-up pages: worklists (query counts), the assessor's blind pages, role access."""

import re
from datetime import timedelta
from urllib.parse import urljoin, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conftest import TEST_PASSWORD, baseline_data, bulk_participants
from followup import services
from followup.models import Visit
from randomization import services as r_services
from trial import services as trial_services
from trial.models import Participant, Screening

pytestmark = pytest.mark.django_db


def bulk_visits(site, nurse, consent_form, start, count):
    """Participants with an m1 visit whose window is open today, inserted directly."""
    today = timezone.localdate()
    participants = bulk_participants(
        site, nurse, consent_form, prefix="Q", start=start, count=count
    )
    Visit.objects.bulk_create(
        [
            Visit(
                participant=p,
                code="m1",
                label="1 month",
                target_date=today,
                window_opens=today - timedelta(days=7),
                window_closes=today + timedelta(days=7),
                instruments=["sf_mpq", "gad7", "phq9", "psqi"],
                status="due",
            )
            for p in participants
        ]
    )


@pytest.mark.parametrize(("page", "role"), [("worklist", "nurse"), ("call_list", "assessor")])
def test_worklist_query_count_does_not_grow(
    client, request, site, nurse, assessor, consent_form, page, role
):
    client.force_login(request.getfixturevalue(role))
    bulk_visits(site, nurse, consent_form, 0, 10)
    client.get(reverse(page))
    with CaptureQueriesContext(connection) as ten:
        response = client.get(reverse(page), {"sort": "study_id"})
    assert response.status_code == 200
    assert len(response.context["rows"]) == 10
    bulk_visits(site, nurse, consent_form, 10, 990)
    with CaptureQueriesContext(connection) as thousand:
        response = client.get(reverse(page), {"sort": "study_id", "page": 7})
    assert len(response.context["rows"]) == 25
    assert len(thousand) == len(ten), [q["sql"] for q in thousand.captured_queries]


def test_worklist_filters_and_sorting(client, site, nurse, consent_form):
    bulk_visits(site, nurse, consent_form, 0, 3)
    Visit.objects.filter(participant__study_id="Q-000001").update(
        window_opens=timezone.localdate() - timedelta(days=30),
        target_date=timezone.localdate() - timedelta(days=23),
        window_closes=timezone.localdate() - timedelta(days=16),
        status="overdue",
    )
    client.force_login(nurse)
    overdue = client.get(reverse("worklist"), {"which": "overdue"}).context["rows"]
    assert [v.participant.study_id for v, _ in overdue] == ["Q-000001"]
    today = client.get(reverse("worklist"), {"which": "today", "sort": "study_id"}).context["rows"]
    assert [v.participant.study_id for v, _ in today] == ["Q-000000", "Q-000002"]


def test_visit_names_follow_the_readers_language(client, site, nurse, consent_form):
    bulk_visits(site, nurse, consent_form, 0, 1)
    client.force_login(nurse)
    assert "<td>1 month</td>" in client.get(reverse("worklist")).content.decode()
    nurse.profile.language = "zh-hans"
    nurse.profile.save()
    page = client.get(reverse("worklist")).content.decode()
    assert "<td>1 个月</td>" in page and "1 month" not in page
    # A configured schedule's own visit keeps the label it was given.
    Visit.objects.update(code="m2", label="Week 8 call")
    assert Visit.objects.get().display_label == "Week 8 call"


# --- the assessor stays blind ----------------------------------------------------------

FORBIDDEN = [
    r"[Aa]dverse",
    r"Nausea",
    r"Pneumonia",
    r"[Aa]dherence",
    r"[Cc]achet",
    r"[Cc]ode[- ]break",
    r"[Cc]ode broken",
    r"\bPLACEBO\b",
    r"[Pp]lacebo",
    r"\bMLT\b(?![- ]|-L)",
    r"[Pp]ack\b",
    r"[Ss]ide effect",
    r"[Tt]ingling",
    r"[Ww]ithdraw",
    r"[Ss]erious",
]


@pytest.fixture
def busy_participant(make_participant, nurse, investigator, statistician, active_list):
    """A participant with everything an assessor must never see: an SAE, adherence,
    a code-break, a withdrawal-reason-free status, and an allocation."""
    participant = make_participant()
    procedure = timezone.localdate() - timedelta(days=33)
    Screening.objects.filter(pk=participant.screening.pk).update(
        screening_date=procedure - timedelta(days=3)
    )
    Participant.objects.filter(pk=participant.pk).update(consent_date=procedure - timedelta(days=3))
    participant.refresh_from_db()
    trial_services.baseline_save(
        participant=participant, data=baseline_data(procedure_date=procedure), by=nurse
    )
    r_services.allocation_assign(participant=participant, by=nurse)
    services.contact_details_save(
        participant=participant,
        data={"phone": "13800000000", "alternative_phone": "", "best_time": ""},
        by=nurse,
    )
    services.adverse_event_record(
        participant=participant,
        data={
            "term": "Pneumonia",
            "onset_date": timezone.localdate(),
            "end_date": None,
            "severity": "severe",
            "serious": True,
            "sae_criteria": ["hospitalisation"],
            "relatedness": "unlikely",
            "action_taken": "none",
            "outcome": "recovering",
        },
        by=nurse,
    )
    services.adverse_event_record(
        participant=participant,
        data={
            "term": "Nausea",
            "onset_date": timezone.localdate(),
            "end_date": None,
            "severity": "mild",
            "serious": False,
            "sae_criteria": [],
            "relatedness": "possible",
            "action_taken": "none",
            "outcome": "recovering",
        },
        by=nurse,
    )
    services.adherence_record(
        participant=participant, counted_on=timezone.localdate(), cachets_returned=40, by=nurse
    )
    r_services.code_break_request(
        participant=participant, reason="Rash", password=TEST_PASSWORD, by=investigator
    )
    return participant


def crawl(client, start="/"):
    """Every page reachable by following links (GET) from ``start``, with its body."""
    seen, queue, pages = set(), [start], {}
    while queue and len(seen) < 200:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            pages[url] = (response.status_code, "")
            continue
        body = response.content.decode()
        pages[url] = (200, body)
        for href in re.findall(r'href="([^"#]+)"', body):
            target = urljoin(url, href.replace("&amp;", "&"))
            parsed = urlparse(target)
            if parsed.netloc or parsed.path.startswith(("/static/", "/accounts/logout", "/admin/")):
                continue
            queue.append(parsed.path + (f"?{parsed.query}" if parsed.query else ""))
    return pages


def test_assessor_pages_never_hint_at_the_arm(client, assessor, busy_participant):
    client.force_login(assessor)
    pages = crawl(client)
    call = Visit.objects.get(participant=busy_participant, code="m1")
    assert reverse("call_page", args=[call.pk]) in pages  # the crawl reached the call page
    assert any("/questionnaires/" in url for url in pages)  # and the questionnaire forms
    for url, (status, body) in pages.items():
        assert status in (200, 302), (url, status)
        text = re.sub(r"<script.*?</script>", "", body, flags=re.S)
        for pattern in FORBIDDEN:
            assert not re.search(pattern, text), (url, pattern)


@pytest.mark.parametrize(
    "name",
    [
        "participant_detail",
        "participant_list",
        "adverse_event_new",
        "status_change",
        "contact_details",
        "worklist",
        "sae_list",
        "visit_detail",
        "randomize",
        "code_break",
    ],
)
def test_assessor_forbidden_pages(client, assessor, busy_participant, name):
    client.force_login(assessor)
    visit = Visit.objects.get(participant=busy_participant, code="m1")
    args = {"participant_list": [], "worklist": [], "sae_list": [], "visit_detail": [visit.pk]}.get(
        name, [busy_participant.study_id]
    )
    assert client.get(reverse(name, args=args)).status_code == 403


@pytest.mark.parametrize(
    "role", ["research_nurse", "investigator", "data_manager", "dsmb", "unblinded_statistician"]
)
def test_call_pages_are_for_assessors(client, role_users, busy_participant, role):
    client.force_login(role_users[role])
    visit = Visit.objects.get(participant=busy_participant, code="m1")
    assert client.get(reverse("call_list")).status_code == 403
    assert client.get(reverse("call_page", args=[visit.pk])).status_code == 403


def test_nurse_sees_events_and_adherence_on_the_participant_page(client, nurse, busy_participant):
    client.force_login(nurse)
    body = client.get(
        reverse("participant_detail", args=[busy_participant.study_id])
    ).content.decode()
    assert "Pneumonia" in body and "awaiting review" in body
    assert "code broken on" in body
