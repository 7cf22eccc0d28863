"""The audit trail: history of every clinical change, the data manager's page and export."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from conftest import baseline_data
from trial import services
from trial.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(make_participant, nurse):
    participant = make_participant()
    services.baseline_save(participant=participant, data=baseline_data(), by=nurse)
    services.baseline_save(
        participant=participant,
        data=baseline_data(height_cm=Decimal("158.0")),
        by=nurse,
        reason="Height re-measured",
    )
    other = make_participant()
    return participant, other


def test_every_clinical_write_is_in_the_trail(trail):
    participant, other = trail
    models = list(
        AuditEvent.objects.filter(subject=participant.study_id).values_list("model", "action")
    )
    assert ("trial.Participant", "create") in models
    assert ("trial.Baseline", "create") in models
    assert ("trial.Baseline", "update") in models


def test_audit_page_filters(client, datamanager, trail):
    participant, other = trail
    client.force_login(datamanager)
    response = client.get(reverse("audit_trail"), {"subject": participant.study_id})
    events = list(response.context["page"])
    assert events and all(e.subject == participant.study_id for e in events)
    response = client.get(reverse("audit_trail"), {"model": "trial.Baseline"})
    assert {e.model for e in response.context["page"]} == {"trial.Baseline"}
    response = client.get(reverse("audit_trail"), {"username": "nobody"})
    assert list(response.context["page"]) == []
    body = client.get(reverse("audit_trail"), {"model": "trial.Baseline"}).content.decode()
    assert "Height re-measured" in body
    assert "160.0 → 158.0" in body


def test_audit_page_date_filter(client, datamanager, trail):
    client.force_login(datamanager)
    event = AuditEvent.objects.order_by("at").first()
    day = event.at.date().isoformat()
    response = client.get(
        reverse("audit_trail"), {"date_from": "2000-01-01", "date_to": "2000-01-02"}
    )
    assert list(response.context["page"]) == []
    response = client.get(reverse("audit_trail"), {"date_from": day})
    assert len(response.context["page"]) > 0


def test_audit_csv_export(client, datamanager, trail):
    participant, _other = trail
    client.force_login(datamanager)
    response = client.get(reverse("audit_trail_csv"), {"subject": participant.study_id})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "audit-trail-" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows and {row["subject"] for row in rows} == {participant.study_id}
    reasons = [row["reason"] for row in rows if row["action"] == "update"]
    assert "Height re-measured" in reasons
    # The export itself is recorded in the trail.
    assert AuditEvent.objects.filter(
        summary="Audit trail exported as CSV", user=datamanager
    ).exists()


def test_audit_page_is_read_only(client, datamanager, trail):
    client.force_login(datamanager)
    before = AuditEvent.objects.count()
    assert client.post(reverse("audit_trail")).status_code == 405
    assert client.delete(reverse("audit_trail")).status_code == 405
    assert client.post(reverse("audit_trail_csv")).status_code == 405
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("model", ["screening", "participant", "baseline", "auditevent"])
def test_admin_clinical_records_are_read_only(client, datamanager, trail, model):
    client.force_login(datamanager)
    changelist = reverse(f"admin:trial_{model}_changelist")
    assert client.get(changelist).status_code == 200
    assert client.get(reverse(f"admin:trial_{model}_add")).status_code == 403
    obj_id = {
        "screening": trail[0].screening.pk,
        "participant": trail[0].pk,
        "baseline": trail[0].baseline.pk,
        "auditevent": AuditEvent.objects.first().pk,
    }[model]
    response = client.post(reverse(f"admin:trial_{model}_change", args=[obj_id]), {})
    assert response.status_code == 403
    assert (
        client.post(
            reverse(f"admin:trial_{model}_delete", args=[obj_id]), {"post": "yes"}
        ).status_code
        == 403
    )


def test_admin_reference_data_is_editable(client, datamanager):
    client.force_login(datamanager)
    assert client.get(reverse("admin:trial_consentformversion_add")).status_code == 200
    assert client.get(reverse("admin:trial_site_add")).status_code == 200
    # People are managed on the People pages; the admin's user pages are superusers'.
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403


def test_reference_data_changes_are_audited(datamanager):
    from trial.models import ConsentFormVersion

    version = ConsentFormVersion(version="2.0", approved_on="2020-01-01")
    version._history_user = datamanager
    version.save()
    event = AuditEvent.objects.get(model="trial.ConsentFormVersion")
    assert event.username == "datamanager"


def test_legacy_lines_withhold_the_assessors_note(client, datamanager):
    """An earlier version copied the assessor's unblinding note into the trail;
    those lines cannot be rewritten, so every reader shows the value withheld."""
    from trial.audit import WITHHELD, audit_event

    audit_event(
        user=None,
        model="followup.PhoneInterview",
        action=AuditEvent.Action.UPDATE,
        subject="MLT-900",
        changes={"unblinding_note": ["", "she is on PLACEBO"], "disrupted": [False, True]},
    )
    client.force_login(datamanager)
    page = client.get(reverse("audit_trail"), {"subject": "MLT-900"}).content.decode()
    assert "PLACEBO" not in page and WITHHELD in page
    response = client.get(reverse("audit_trail_csv"), {"subject": "MLT-900"})
    body = b"".join(response.streaming_content).decode()
    assert "PLACEBO" not in body and WITHHELD in body and "disrupted" in body
