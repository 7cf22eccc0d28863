"""Pages for every role: allowed pages work, forbidden pages answer 403, nothing leaks."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conftest import TEST_PASSWORD, baseline_data, bulk_participants, make_user
from trial import services
from trial.models import AuditEvent, Baseline, Participant, Screening

pytestmark = pytest.mark.django_db

ROLES = [
    "research_nurse",
    "blinded_assessor",
    "investigator",
    "unblinded_statistician",
    "dsmb",
    "data_manager",
]

# page name -> roles that may open it (GET). Every other role gets 403.
PAGE_ACCESS = {
    "participant_list": {
        "research_nurse",
        "investigator",
        "unblinded_statistician",
        "data_manager",
    },
    "participant_detail": {
        "research_nurse",
        "investigator",
        "unblinded_statistician",
        "data_manager",
    },
    # The investigator records only the screening that overrides one-person-one-id.
    "screening_new": {"research_nurse", "investigator"},
    "screening_log": {"research_nurse", "investigator", "data_manager"},
    "screening_detail": {"research_nurse", "investigator", "data_manager"},
    "baseline_edit": {"research_nurse"},
    "audit_trail": {"data_manager"},
    "audit_trail_csv": {"data_manager"},
    # People: the data manager manages; those who hold an unblinded role see the
    # pages to approve requests for one.
    "people_list": {"data_manager", "unblinded_statistician", "dsmb"},
    "person_invite": {"data_manager"},
    "person_detail": {"data_manager", "unblinded_statistician", "dsmb"},
}


@pytest.fixture
def enrolled(make_participant, nurse):
    participant = make_participant()
    services.baseline_save(participant=participant, data=baseline_data(), by=nurse)
    return participant


def url_for(name, participant):
    if name in {"participant_detail", "baseline_edit"}:
        return reverse(name, args=[participant.study_id])
    if name == "screening_detail":
        return reverse(name, args=[participant.screening.pk])
    if name == "person_detail":
        return reverse(name, args=[participant.consent_taken_by.pk])
    return reverse(name)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", sorted(PAGE_ACCESS))
def test_role_page_matrix(client, role_users, enrolled, role, page):
    client.force_login(role_users[role])
    response = client.get(url_for(page, enrolled))
    if role in PAGE_ACCESS[page]:
        assert response.status_code == 200, (role, page)
    else:
        assert response.status_code == 403, (role, page)
        body = response.content.decode()
        assert enrolled.study_id not in body
        assert enrolled.screening.hospital_number not in body


@pytest.mark.parametrize(
    "page",
    ["screening_consent", "screening_decline"],
)
@pytest.mark.parametrize("role", [r for r in ROLES if r != "research_nurse"])
def test_consent_posts_forbidden_for_other_roles(client, role_users, make_screening, role, page):
    screening = make_screening()
    client.force_login(role_users[role])
    response = client.post(reverse(page, args=[screening.pk]), {"reason": "x"})
    assert response.status_code == 403
    screening.refresh_from_db()
    assert screening.consent_status == Screening.ConsentStatus.PENDING


def test_every_page_requires_login(client, enrolled):
    for page in PAGE_ACCESS:
        response = client.get(url_for(page, enrolled))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        ("research_nurse", ["Screen a patient", "Screening log", "Participants"], ["Audit trail"]),
        (
            "blinded_assessor",
            ["Calls"],
            ["Participants", "Screen a patient", "Screening log", "Audit trail", "Worklist"],
        ),
        ("dsmb", [], ["Participants", "Screen a patient", "Screening log", "Audit trail"]),
        ("data_manager", ["Audit trail", "Administration", "Screening log"], ["Screen a patient"]),
    ],
)
def test_navigation_shows_only_allowed_pages(client, role_users, role, visible, hidden):
    client.force_login(role_users[role])
    response = client.get(reverse("home"))
    nav = response.context["nav_items"]
    labels = [str(item["label"]) for item in nav]
    for label in visible:
        assert label in labels
    for label in hidden:
        assert label not in labels


def test_users_see_only_their_sites_participants(client, make_participant, other_site, nurse):
    mine = make_participant()
    nurse2 = make_user("nurse2", "research_nurse", sites=[other_site])
    client.force_login(nurse2)
    assert client.get(reverse("participant_detail", args=[mine.study_id])).status_code == 404
    response = client.get(reverse("participant_list"))
    assert mine.study_id not in response.content.decode()
    assert client.get(reverse("screening_detail", args=[mine.screening.pk])).status_code == 404


def test_participant_list_search(client, nurse, make_participant):
    first = make_participant(initials="AB")
    second = make_participant(initials="CD")
    client.force_login(nurse)
    body = client.get(reverse("participant_list"), {"q": "cd"}).content.decode()
    assert second.study_id in body and first.study_id not in body
    body = client.get(reverse("participant_list"), {"q": first.study_id}).content.decode()
    assert first.study_id in body and second.study_id not in body


@pytest.mark.parametrize("page", ["participant_list", "screening_log", "home"])
def test_list_query_count_does_not_grow(client, site, nurse, consent_form, page):
    client.force_login(nurse)
    bulk_participants(site, nurse, consent_form, prefix="BULK", start=0, count=5)
    client.get(reverse(page))  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse(page)).status_code == 200
    bulk_participants(site, nurse, consent_form, prefix="BULK", start=5, count=500)
    with CaptureQueriesContext(connection) as large:
        assert client.get(reverse(page)).status_code == 200
        assert client.get(reverse(page), {"page": 3}).status_code == 200
    assert len(large) == 2 * len(small), [q["sql"] for q in large.captured_queries]


def test_participant_history_names_records_and_fields_in_the_readers_language(
    client, nurse, enrolled
):
    services.baseline_save(
        participant=enrolled,
        data=baseline_data(weight_kg=Decimal("61")),
        by=nurse,
        reason="re-weighed",
    )
    client.force_login(nurse)
    url = reverse("participant_detail", args=[enrolled.study_id])
    page = client.get(url).content.decode()
    assert "Changed baseline: body-mass index, weight (kg)</td><td>re-weighed" in page
    nurse.profile.language = "zh-hans"
    nurse.profile.save()
    page = client.get(url).content.decode()
    assert "基线: 体重指数, 体重（kg）</td><td>re-weighed" in page
    assert "trial.Baseline" not in page


def test_participant_page_query_count_is_fixed(client, site, nurse, enrolled):
    client.force_login(nurse)
    url = reverse("participant_detail", args=[enrolled.study_id])
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        client.get(url)
    for weight in ("61", "62", "63"):
        services.baseline_save(
            participant=enrolled,
            data=baseline_data(weight_kg=Decimal(weight)),
            by=nurse,
            reason="re-weighed",
        )
    with CaptureQueriesContext(connection) as after:
        client.get(url)
    assert len(after) == len(before)


class TestScreeningFlow:
    def post_screening(self, client, **overrides):
        today = timezone.localdate()
        data = {
            "screening_date": (today - timedelta(days=1)).isoformat(),
            "initials": "lx",
            "hospital_number": "H123",
            "date_of_birth": "1970-05-05",
            "sex": "female",
            "confirmed_diagnosis": "yes",
            "scheduled_procedure_date": (today + timedelta(days=2)).isoformat(),
            "excl_pregnancy": "no",
            "excl_psychiatric": "no",
            "excl_severe_disease": "no",
            "excl_medication": "no",
            "excl_mlt_allergy": "no",
            "excl_other_trial": "no",
            "excl_unwilling": "no",
        }
        data.update(overrides)
        return client.post(reverse("screening_new"), data)

    def test_eligible_screening_then_consent(self, client, nurse, consent_form):
        client.force_login(nurse)
        response = self.post_screening(client)
        screening = Screening.objects.get()
        assert response.status_code == 302
        assert response["Location"] == reverse("screening_detail", args=[screening.pk])
        assert screening.initials == "LX"
        page = client.get(response["Location"]).content.decode()
        assert "Record consent" in page
        response = client.post(
            reverse("screening_consent", args=[screening.pk]),
            {
                "consent_date": screening.screening_date.isoformat(),
                "form_version": consent_form.pk,
                "signed_form_filed": "on",
            },
        )
        participant = Participant.objects.get()
        assert response["Location"] == reverse("participant_detail", args=[participant.study_id])

    def test_unanswered_criterion_is_an_error_beside_the_field(self, client, nurse):
        client.force_login(nurse)
        response = self.post_screening(client, excl_unwilling="")
        assert response.status_code == 200
        assert "excl_unwilling" in response.context["form"].errors
        assert Screening.objects.count() == 0

    def test_ineligible_shows_reasons(self, client, nurse):
        client.force_login(nurse)
        response = self.post_screening(client, excl_mlt_allergy="yes", date_of_birth="1940-01-01")
        screening = Screening.objects.get()
        page = client.get(response["Location"]).content.decode()
        assert "Not eligible" in page
        assert "Allergy to magnesium-L-threonate" in page
        assert "Age below 18 or over 70 years" in page
        assert screening.failed_criteria == ["excl_age", "excl_mlt_allergy"]

    def test_duplicate_hospital_number_warns_and_links(self, client, nurse):
        client.force_login(nurse)
        self.post_screening(client)
        first = Screening.objects.get()
        response = self.post_screening(client, hospital_number="h123")
        assert response.status_code == 200
        assert Screening.objects.count() == 1
        body = response.content.decode()
        assert reverse("screening_detail", args=[first.pk]) in body
        assert "confirm_duplicate" in response.context["form"].errors
        response = self.post_screening(client, hospital_number="H123", confirm_duplicate="on")
        assert response.status_code == 302
        assert Screening.objects.count() == 2
        second = Screening.objects.exclude(pk=first.pk).get()
        detail = client.get(reverse("screening_detail", args=[second.pk])).content.decode()
        assert reverse("screening_detail", args=[first.pk]) in detail

    def test_future_screening_date_message_beside_field(self, client, nurse):
        client.force_login(nurse)
        tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
        response = self.post_screening(
            client, screening_date=tomorrow, scheduled_procedure_date=tomorrow
        )
        assert response.status_code == 200
        assert response.context["form"].errors["screening_date"] == [
            str(services.SCREENING_DATE_IN_FUTURE)
        ]
        assert Screening.objects.count() == 0

    def test_consent_in_future_is_refused_with_message(
        self, client, nurse, make_screening, consent_form
    ):
        screening = make_screening()
        client.force_login(nurse)
        response = client.post(
            reverse("screening_consent", args=[screening.pk]),
            {
                "consent_date": (timezone.localdate() + timedelta(days=1)).isoformat(),
                "form_version": consent_form.pk,
                "signed_form_filed": "on",
            },
        )
        assert response.status_code == 400
        assert str(services.CONSENT_IN_FUTURE) in response.content.decode()
        assert Participant.objects.count() == 0

    def test_decline(self, client, nurse, make_screening):
        screening = make_screening()
        client.force_login(nurse)
        response = client.post(
            reverse("screening_decline", args=[screening.pk]),
            {"declined_on": screening.screening_date.isoformat(), "reason": "Too far"},
        )
        assert response.status_code == 302
        screening.refresh_from_db()
        assert screening.consent_status == "declined"


class TestBaselineForm:
    def form_data(self, participant, **overrides):
        data = {
            "height_cm": "160",
            "weight_kg": "60",
            "comorbidity": "no",
            "comorbidity_list": "",
            "surgical_site": "left",
            "preop_vas_mm": "35",
            "procedure_type": "lumpectomy",
            "procedure_date": participant.screening.scheduled_procedure_date.isoformat(),
            "chemo_regimen": "C+E+T",
            "radiotherapy": "yes",
            "hormone_therapy": "no",
            "targeted_therapy": "no",
        }
        data.update(overrides)
        return data

    def test_enter_baseline(self, client, nurse, make_participant):
        participant = make_participant()
        client.force_login(nurse)
        url = reverse("baseline_edit", args=[participant.study_id])
        response = client.post(url, self.form_data(participant))
        assert response.status_code == 302
        baseline = Baseline.objects.get()
        assert baseline.preop_vas_mm == 35
        assert baseline.radiotherapy is True

    @pytest.mark.parametrize(
        ("field", "value"),
        [("height_cm", "250"), ("weight_kg", "20"), ("preop_vas_mm", "101"), ("preop_vas_mm", "")],
    )
    def test_out_of_range_refused_beside_field(self, client, nurse, make_participant, field, value):
        participant = make_participant()
        client.force_login(nurse)
        url = reverse("baseline_edit", args=[participant.study_id])
        response = client.post(url, self.form_data(participant, **{field: value}))
        assert response.status_code == 200
        assert field in response.context["form"].errors
        assert Baseline.objects.count() == 0

    def test_vas_has_no_preset_value(self, client, nurse, make_participant):
        participant = make_participant()
        client.force_login(nurse)
        body = client.get(reverse("baseline_edit", args=[participant.study_id])).content.decode()
        start = body.index('name="preop_vas_mm"')
        tag = body[body.rindex("<input", 0, start) : body.index(">", start)]
        assert "value=" not in tag

    def test_correction_requires_reason_in_form(self, client, nurse, make_participant):
        participant = make_participant()
        client.force_login(nurse)
        url = reverse("baseline_edit", args=[participant.study_id])
        client.post(url, self.form_data(participant))
        version = client.get(url).context["form"].initial["version"]
        response = client.post(url, self.form_data(participant, weight_kg="65", version=version))
        assert response.status_code == 200
        assert "reason" in response.context["form"].errors
        response = client.post(
            url,
            self.form_data(
                participant, weight_kg="65", reason="Re-weighed on admission", version=version
            ),
        )
        assert response.status_code == 302
        event = AuditEvent.objects.get(model="trial.Baseline", action="update")
        assert event.reason == "Re-weighed on admission"
        assert event.username == "nurse"


def test_login_lockout_after_repeated_failures(client, nurse, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post(reverse("login"), {"username": "nurse", "password": "wrong-password"})
    response = client.post(reverse("login"), {"username": "nurse", "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert "Account locked" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_works_and_session_expires_with_inactivity(client, nurse, settings):
    response = client.post(reverse("login"), {"username": "nurse", "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_IDLE_MINUTES * 60 == 30 * 60
    assert client.session.get_expiry_age() == 30 * 60


def test_password_validators_refuse_weak_passwords(nurse):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ["password123", "12345678901234", "nurse-nurse", "short1!"]:
        with pytest.raises(ValidationError):
            validate_password(weak, user=nurse)
    validate_password("a-long-and-unusual-phrase-77", user=nurse)


def test_roles_sync_is_idempotent():
    from trial.roles import ROLE_PERMISSIONS, roles_sync

    roles_sync()
    roles_sync()
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLE_PERMISSIONS)
    nurse_group = Group.objects.get(name="research_nurse")
    assert nurse_group.permissions.filter(codename="screen_patient").exists()
    dsmb_permissions = Group.objects.get(name="dsmb").permissions.values_list("codename", flat=True)
    assert sorted(dsmb_permissions) == [
        "approve_unblinded_role",
        "view_adherence",
        "view_arm",
        "view_dashboard",
        "view_open_report",
    ]
