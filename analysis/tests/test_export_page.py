"""The data manager's export page: background exports, blinding, expiry."""

import csv
import io
import zipfile
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analysis.models import DataExport
from analysis.tasks import purge_expired_files
from trial.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def randomized(active_list, make_ready_participant, nurse):
    from randomization import services

    for _ in range(3):
        services.allocation_assign(participant=make_ready_participant(), by=nurse)


def _rows(export, name="participants.csv", content=None):
    with zipfile.ZipFile(io.BytesIO(content or bytes(export.content))) as archive:
        return list(csv.DictReader(io.StringIO(archive.read(name).decode())))


def test_data_manager_exports_blinded_with_progress_and_download(
    client, datamanager, randomized, django_capture_on_commit_callbacks
):
    client.force_login(datamanager)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("exports"), {"format": "xpt", "unblinded": "on"})
    export = DataExport.objects.get()
    assert export.unblinded is False
    assert export.status == "done" and export.progress == 100
    names = zipfile.ZipFile(io.BytesIO(bytes(export.content))).namelist()
    assert "participants.csv" in names and any(n.endswith(".xpt") for n in names)
    assert {row["arm"] for row in _rows(export)} == {""}
    response = client.get(reverse("export_download", args=[export.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert AuditEvent.objects.filter(summary__startswith="Export downloaded").exists()


def test_statistician_may_include_arms(
    client, statistician, randomized, django_capture_on_commit_callbacks
):
    client.force_login(statistician)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("exports"), {"format": "csv", "unblinded": "on"})
    export = DataExport.objects.get()
    assert export.unblinded is True
    # At rest the zip is encrypted with the randomization keys: a dump holds no arm.
    assert export.sealed and not bytes(export.content).startswith(b"PK")
    with pytest.raises(zipfile.BadZipFile):
        _rows(export)
    download = client.get(reverse("export_download", args=[export.pk]))
    assert download.status_code == 200
    rows = _rows(export, content=download.content)
    assert {row["arm"] for row in rows} <= {"MLT", "PLACEBO"}
    assert all(row["arm"] for row in rows)


def test_unblinded_export_needs_the_arm_permission_at_download_time(
    client, statistician, randomized, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Permission

    client.force_login(statistician)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("exports"), {"format": "csv", "unblinded": "on"})
    export = DataExport.objects.get()
    assert client.get(reverse("export_download", args=[export.pk])).status_code == 200
    # The statistician keeps export_data but loses the arm (a new role without it).
    statistician.groups.clear()
    statistician.user_permissions.add(Permission.objects.get(codename="export_data"))
    statistician = type(statistician).objects.get(pk=statistician.pk)
    client.force_login(statistician)
    response = client.get(reverse("export_download", args=[export.pk]))
    assert response.status_code == 403
    assert b"PK" not in response.content[:2]


@pytest.mark.parametrize("username", ["nurse", "assessor", "investigator", "dsmb"])
def test_export_page_forbidden_without_permission(client, role_users, username):
    user = next(u for u in role_users.values() if u.username == username)
    client.force_login(user)
    assert client.get(reverse("exports")).status_code == 403
    assert client.post(reverse("exports"), {"format": "csv"}).status_code == 403
    assert DataExport.objects.count() == 0


def test_expired_exports_are_gone(
    client, datamanager, randomized, django_capture_on_commit_callbacks
):
    client.force_login(datamanager)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("exports"), {"format": "odm"})
    export = DataExport.objects.get()
    DataExport.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(1))
    assert client.get(reverse("export_download", args=[export.pk])).status_code == 404
    assert purge_expired_files() == 1
    export.refresh_from_db()
    assert bytes(export.content) == b""


def test_export_carries_each_questionnaires_language(
    client, datamanager, nurse, make_participant, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from questionnaires import services

    participant = make_participant()
    services.response_record(
        participant=participant,
        visit="baseline",
        instrument="gad7",
        answers={f"gad7_{n}": 1 for n in range(1, 8)},
        administration=services.Administration(
            administered_on=timezone.localdate(), mode="in_person", language="zh-hans"
        ),
        by=nurse,
    )
    client.force_login(datamanager)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("exports"), {"format": "xpt"})
    export = DataExport.objects.get()
    rows = _rows(export, "administrations.csv")
    assert rows == [
        {
            "study_id": participant.study_id,
            "visit": "baseline",
            "instrument": "gad7",
            "administered_on": timezone.localdate().isoformat(),
            "mode": "in_person",
            "language": "zh-hans",
        }
    ]
    names = zipfile.ZipFile(io.BytesIO(bytes(export.content))).namelist()
    assert "administrations.xpt" in names
