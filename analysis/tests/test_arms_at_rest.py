"""A dump of every table holds no arm, after everything that reads or writes arms.

The trial is seeded, the DSMB's analysis computed, a closed (by-arm) PDF report
made, an unblinded export built, an emergency code-break done, and an assessor
has written "she is on PLACEBO" as how they learned the arm. Then every row of
every table is read as a backup would hold it. Arms may appear only as the list
of the arms' names of a randomization list; anything arm-bearing must be sealed
(encrypted with the randomization keys, which a dump does not hold).
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from analysis.models import AnalysisRun, DataExport, ReportFile
from randomization import unblinded
from trial.demo import seed_demo
from trial.models import AuditEvent

pytestmark = pytest.mark.django_db

ARM_NAMES_LISTS = (
    '["MLT", "PLACEBO"]',
    '["MLT","PLACEBO"]',
    "['MLT', 'PLACEBO']",
    '[\\"MLT\\", \\"PLACEBO\\"]',
)
NOTE = "Participant said: she is on PLACEBO, the tablets taste of nothing"


def _dump() -> list[tuple[str, object]]:
    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - every table, as a dump
            for row in cursor.fetchall():
                values.extend((table, value) for value in row if value is not None)
    return values


def _text(value) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


@pytest.fixture
def everything_done(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        seed_demo(password="demo-password-for-tests-1", participants=12)
    from django.contrib.auth import get_user_model

    users = {u.username: u for u in get_user_model().objects.all()}
    closed = AnalysisRun.objects.get(kind="closed", status="done")
    client.force_login(users["dsmb"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("report_request", args=[closed.pk]), {"language": "en"})
    client.force_login(users["statistician"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("exports"), {"format": "odm", "unblinded": "on"})
    client.force_login(users["datamanager"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("exports"), {"format": "csv"})  # blinded: a zip in the clear
    # An assessor learns the arm during a call and writes it down.
    from followup import services as followup_services
    from followup.models import Visit, VisitStatus

    visit = (
        Visit.objects.filter(status__in=[VisitStatus.DUE, VisitStatus.OVERDUE])
        .select_related("participant")
        .first()
    )
    if visit is not None:
        from django.utils import timezone

        started = timezone.now().replace(microsecond=0)
        followup_services.interview_record(
            visit=visit,
            started_at=started,
            ended_at=started,
            disrupted=False,
            remained_blind=False,
            unblinding_note=NOTE,
            out_of_window_reason="Reached late",
            by=users["assessor"],
        )
    assert ReportFile.objects.filter(run=closed, status="done").exists()
    assert DataExport.objects.filter(unblinded=True, status="done").exists()
    return users, closed


def test_no_table_holds_an_arm_in_the_clear(everything_done):
    users, closed = everything_done
    opened = unblinded.open_closed_run(AnalysisRun.objects.get(pk=closed.pk), user=users["dsmb"])
    secret_hash = opened.data_sha256
    assert len(secret_hash) == 64
    open_pdfs = {
        bytes(content)
        for content in ReportFile.objects.filter(run__kind="open").values_list("content", flat=True)
    }
    findings = []
    zips = pdfs = 0
    for table, value in _dump():
        text = _text(value)
        for names in ARM_NAMES_LISTS:
            text = text.replace(names, "")
        if re.search("placebo", text, re.I):
            findings.append((table, "PLACEBO", text[:120]))
        if re.search(r"""["']arm["']\s*:\s*["'](MLT|PLACEBO)""", text):
            findings.append((table, "arm value", text[:120]))
        if secret_hash in text:
            findings.append((table, "the closed analysis's data hash", ""))
        raw = value.tobytes() if isinstance(value, memoryview) else value
        if isinstance(raw, bytes):
            if raw.startswith(b"PK"):
                zips += 1
                with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                    for name in archive.namelist():
                        member = archive.read(name).decode("utf-8", "replace")
                        if "PLACEBO" in member.replace('"MLT","PLACEBO"', ""):
                            findings.append((table, f"zip member {name}", ""))
            if raw.startswith(b"%PDF"):
                pdfs += 1
                if raw not in open_pdfs:
                    findings.append((table, "a PDF that is not an open report", ""))
    assert findings == []
    assert zips == 1  # the blinded export, read through: the unblinded one is sealed
    assert pdfs == len(open_pdfs)


def test_the_sealed_things_open_for_those_who_may_see_arms(client, everything_done):
    users, closed = everything_done
    client.force_login(users["dsmb"])
    report = ReportFile.objects.get(run=closed)
    pdf = client.get(reverse("report_download", args=[report.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    client.force_login(users["statistician"])
    export = DataExport.objects.get(unblinded=True)
    zipped = client.get(reverse("export_download", args=[export.pk]))
    assert zipped.status_code == 200
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        assert "PLACEBO" in archive.read("participants.csv").decode()
    from followup.models import PhoneInterview

    interview = PhoneInterview.objects.filter(remained_blind=False).last()
    if interview is not None and interview.unblinding_note_token:
        assert unblinded.interview_unblinding_note(interview, user=users["statistician"]) in {
            NOTE,
            "Participant mentioned tingling she read about as a magnesium side effect",
        }


def test_blinded_people_cannot_open_them(everything_done):
    from django.core.exceptions import PermissionDenied

    from followup.models import PhoneInterview

    users, closed = everything_done
    interview = PhoneInterview.objects.exclude(unblinding_note_token="").first()
    assert interview is not None
    for who in ("datamanager", "nurse", "investigator", "assessor"):
        with pytest.raises(PermissionDenied):
            unblinded.open_closed_run(AnalysisRun.objects.get(pk=closed.pk), user=users[who])
        with pytest.raises(PermissionDenied):
            unblinded.open_closed_report(ReportFile.objects.get(run=closed), user=users[who])
        with pytest.raises(PermissionDenied):
            unblinded.open_unblinded_export(DataExport.objects.get(unblinded=True), user=users[who])
        with pytest.raises(PermissionDenied):
            unblinded.interview_unblinding_note(interview, user=users[who])
    _the_assessors_note_is_not_in_the_trail_or_its_csv(users)


def _the_assessors_note_is_not_in_the_trail_or_its_csv(users):
    """Neither the trail nor its CSV, read by the blinded data manager, holds the note."""
    for line in AuditEvent.objects.all():
        text = json.dumps(line.changes) + line.reason + line.summary
        for names in ARM_NAMES_LISTS:
            text = text.replace(names, "")
        assert "PLACEBO" not in text, line
        assert "taste of nothing" not in text and "tingling" not in text, line
    client = Client()
    client.force_login(users["datamanager"])
    response = client.get(reverse("audit_trail_csv"))
    body = b"".join(response.streaming_content).decode()
    assert "PLACEBO" not in body.replace('"MLT", "PLACEBO"', "").replace('""MLT"", ""PLACEBO""', "")
    assert "tingling" not in body and "taste of nothing" not in body
