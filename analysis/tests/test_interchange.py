"""The interchange files of contracts.md §3: export, validated import, and the round trip."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from conftest import TEST_PASSWORD

# The contract's columns, written out literally (contracts.md §3, instruments.md).
SCREENING_HEADER = (
    "screening_id,screening_date,age,excl_age,excl_pregnancy,excl_psychiatric,"
    "excl_severe_disease,excl_medication,excl_mlt_allergy,excl_other_trial,excl_unwilling,"
    "consented,study_id"
)
PARTICIPANTS_HEADER = (
    "study_id,arm,pack_code,consent_date,randomization_date,procedure_date,age,height_cm,"
    "weight_kg,comorbidity,surgical_site,preop_vas_mm,procedure_type,chemo_regimen,"
    "radiotherapy,hormone_therapy,targeted_therapy,status,status_date,status_reason"
)
VISITS_HEADER = (
    "study_id,visit,visit_date,"
    "sfmpq_throbbing,sfmpq_shooting,sfmpq_stabbing,sfmpq_sharp,sfmpq_cramping,sfmpq_gnawing,"
    "sfmpq_hot_burning,sfmpq_aching,sfmpq_heavy,sfmpq_tender,sfmpq_splitting,"
    "sfmpq_tiring_exhausting,sfmpq_sickening,sfmpq_fearful,sfmpq_punishing_cruel,"
    "sfmpq_vas_mm,sfmpq_ppi,"
    "gad7_1,gad7_2,gad7_3,gad7_4,gad7_5,gad7_6,gad7_7,gad7_difficulty,"
    "phq9_1,phq9_2,phq9_3,phq9_4,phq9_5,phq9_6,phq9_7,phq9_8,phq9_9,phq9_10,"
    "psqi_1,psqi_2,psqi_3,psqi_4,psqi_5a,psqi_5b,psqi_5c,psqi_5d,psqi_5e,psqi_5f,psqi_5g,"
    "psqi_5h,psqi_5i,psqi_5j,psqi_5j_text,psqi_6,psqi_7,psqi_8,psqi_9,"
    "tics_name,tics_date,tics_location,tics_count_back,tics_immediate_recall,tics_serial7,"
    "tics_naming,tics_president_vp,tics_repetition,tics_finger_tap,tics_opposites"
)
ADVERSE_EVENTS_HEADER = "study_id,onset_date,term,serious,severity,relatedness,outcome"
FILES = ("screening.csv", "participants.csv", "visits.csv", "adverse_events.csv")
ADMINISTRATIONS_HEADER = "study_id,visit,instrument,administered_on,mode,language"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(directory: Path, name: str, header: list[str], rows: list[list[str]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / name).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


# --------------------------------------------------------------------------- export


@pytest.fixture
def demo_trial(db):
    from trial.demo import seed_demo

    seed_demo(password=TEST_PASSWORD, participants=12)


def test_export_headers_booleans_dates_and_blinding(demo_trial, tmp_path):
    from trial.models import AuditEvent

    out = io.StringIO()
    call_command("export_trial_data", str(tmp_path), stdout=out)
    assert "blinded export" in out.getvalue()
    headers = {
        name: (tmp_path / name).read_text(encoding="utf-8").split("\n", 1)[0] for name in FILES
    }
    assert headers == {
        "screening.csv": SCREENING_HEADER,
        "participants.csv": PARTICIPANTS_HEADER,
        "visits.csv": VISITS_HEADER,
        "adverse_events.csv": ADVERSE_EVENTS_HEADER,
    }
    screening = _rows(tmp_path / "screening.csv")
    participants = _rows(tmp_path / "participants.csv")
    visits = _rows(tmp_path / "visits.csv")
    events = _rows(tmp_path / "adverse_events.csv")
    assert len(screening) == 42 and len(participants) == 12 and visits and events

    iso = r"^\d{4}-\d{2}-\d{2}$"
    for row in screening:
        assert all(row[k] in ("0", "1") for k in row if k.startswith("excl_") or k == "consented")
        assert row["study_id"] == "" or row["consented"] == "1"
        assert pd_match(iso, row["screening_date"])
    assert [r["screening_id"] for r in screening] == sorted(r["screening_id"] for r in screening)
    for row in participants:
        assert row["arm"] == ""  # blinded
        for key in ("consent_date", "status_date"):
            assert pd_match(iso, row[key])
        for key in ("comorbidity", "radiotherapy", "hormone_therapy", "targeted_therapy"):
            assert row[key] in ("", "0", "1")
        assert row["height_cm"] == "" or row["height_cm"].endswith(".0")
    assert [r["study_id"] for r in participants] == sorted(r["study_id"] for r in participants)
    order = {"baseline": 0, "m1": 1, "m3": 2, "m6": 3}
    keys = [(r["study_id"], order[r["visit"]]) for r in visits]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert all(r["serious"] in ("0", "1") for r in events)
    # PSQI clock times and hours as entered ("HH:MM", "H:MM").
    assert all(pd_match(r"^\d{2}:\d{2}$", r["psqi_1"]) for r in visits if r["psqi_1"])
    assert any(":" in r["psqi_4"] for r in visits)

    event = AuditEvent.objects.get(model="analysis.TrialDataExport")
    assert "blinded" in event.summary and "OS user" in event.summary
    assert event.changes["unblinded"] is False


def pd_match(pattern: str, text: str) -> bool:
    import re

    return re.match(pattern, text) is not None


def test_unblinded_export_needs_the_view_arm_permission(demo_trial, tmp_path):
    from randomization.models import ArmAccess

    with pytest.raises(CommandError, match="needs --user"):
        call_command("export_trial_data", str(tmp_path / "a"), "--unblinded")
    for blinded in ("datamanager", "nurse", "assessor"):
        with pytest.raises(CommandError, match="may not see arms"):
            call_command("export_trial_data", str(tmp_path / "a"), "--unblinded", "--user", blinded)
    assert not (tmp_path / "a").exists()
    assert not ArmAccess.objects.exists()

    call_command("export_trial_data", str(tmp_path / "b"), "--unblinded", "--user", "statistician")
    arms = {r["study_id"]: r["arm"] for r in _rows(tmp_path / "b" / "participants.csv")}
    packs = {r["study_id"]: r["pack_code"] for r in _rows(tmp_path / "b" / "participants.csv")}
    assert {arm for arm in arms.values() if arm} == {"MLT", "PLACEBO"}
    assert all(bool(arms[s]) == bool(packs[s]) for s in arms)
    assert ArmAccess.objects.filter(user__username="statistician").count() == 1


# --------------------------------------------------------------------------- import

SCREENING_ROWS = [
    ["MLT-S0001", "2024-03-01", "52", *"00000000", "1", "MLT-001"],
    ["MLT-S0002", "2024-03-02", "75", "1", *"0000000", "0", ""],
    ["MLT-S0003", "2024-03-04", "44", *"00000000", "1", "MLT-002"],
    ["MLT-S0004", "2024-03-05", "39", *"00000000", "0", ""],
]
PARTICIPANT_ROWS = [
    # fmt: off
    [
        "MLT-001",
        "MLT",
        "P001",
        "2024-03-01",
        "2024-03-03",
        "2024-03-06",
        "52",
        "160.0",
        "60.5",
        "0",
        "left",
        "20",
        "mastectomy",
        "C+A",
        "1",
        "0",
        "0",
        "on_study",
        "2024-03-01",
        "",
    ],
    [
        "MLT-002",
        "",
        "",
        "2024-03-04",
        "",
        "",
        "44",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "withdrawn",
        "2024-03-20",
        "Moved away",
    ],
    # fmt: on
]
SFMPQ = [
    "sfmpq_throbbing", "sfmpq_shooting", "sfmpq_stabbing", "sfmpq_sharp", "sfmpq_cramping",
    "sfmpq_gnawing", "sfmpq_hot_burning", "sfmpq_aching", "sfmpq_heavy", "sfmpq_tender",
    "sfmpq_splitting", "sfmpq_tiring_exhausting", "sfmpq_sickening", "sfmpq_fearful",
    "sfmpq_punishing_cruel", "sfmpq_vas_mm", "sfmpq_ppi",
]  # fmt: skip
GAD7 = [f"gad7_{n}" for n in range(1, 8)]
PHQ9 = [f"phq9_{n}" for n in range(1, 10)]
# Only some item columns: an absent item column is "not collected".
VISIT_COLUMNS = ["study_id", "visit", "visit_date", *SFMPQ, *GAD7, *PHQ9, "psqi_4", "psqi_5j_text"]
NOTE = 'Partner snores, "loudly"\nand coughs'
VISIT_ROWS = [
    ["MLT-001", "baseline", "2024-03-05", *["1"] * 15, "35", "2", *[""] * 7,
     *["0"] * 8, "1", "6:30", ""],
    ["MLT-001", "m1", "2024-04-06", *[""] * 17, *["1"] * 7, *[""] * 9, "6.5", NOTE],
    ["MLT-002", "baseline", "2024-03-05", *[""] * 17, *["2"] * 7, *[""] * 9, "", ""],
]  # fmt: skip
AE_ROWS = [["MLT-001", "2024-03-20", "Nausea", "0", "mild", "possible", "recovered"]]


def _valid_files(directory: Path) -> Path:
    _write(directory, "screening.csv", SCREENING_HEADER.split(","), SCREENING_ROWS)
    _write(directory, "participants.csv", PARTICIPANTS_HEADER.split(","), PARTICIPANT_ROWS)
    _write(directory, "visits.csv", VISIT_COLUMNS, VISIT_ROWS)
    _write(directory, "adverse_events.csv", ADVERSE_EVENTS_HEADER.split(","), AE_ROWS)
    return directory


def _set(directory: Path, name: str, row: int, column: str, value: str) -> None:
    """Change one cell (row counted from 1 after the header)."""
    with (directory / name).open(encoding="utf-8", newline="") as handle:
        records = list(csv.reader(handle))
    records[row][records[0].index(column)] = value
    _write(directory, name, records[0], records[1:])


def _clinical_counts() -> dict[str, int]:
    from followup.models import AdverseEvent, Visit
    from questionnaires.models import Response, SafetyAlert
    from randomization.models import Allocation
    from trial.models import AuditEvent, Baseline, ConsentFormVersion, Participant, Screening

    return {
        "screenings": Screening.objects.count(),
        "participants": Participant.objects.count(),
        "baselines": Baseline.objects.count(),
        "allocations": Allocation.objects.count(),
        "responses": Response.objects.count(),
        "alerts": SafetyAlert.objects.count(),
        "visits": Visit.objects.count(),
        "aes": AdverseEvent.objects.count(),
        "forms": ConsentFormVersion.objects.count(),
        "import_events": AuditEvent.objects.filter(model="analysis.TrialDataImport").count(),
    }


def _import(directory: Path, user: str = "datamanager", *extra: str) -> str:
    out = io.StringIO()
    call_command("import_trial_data", str(directory), "--user", user, *extra, stdout=out)
    return out.getvalue()


def test_import_writes_everything_as_the_user_and_is_audited(datamanager, statistician, tmp_path):
    from followup.models import Visit, VisitStatus
    from questionnaires.definitions import instruments
    from questionnaires.models import Response, SafetyAlert
    from randomization.models import Allocation
    from randomization.unblinded import participant_arm
    from trial.audit import verify_chain
    from trial.models import AuditEvent, Baseline, Participant, Screening, SequenceCounter

    output = _import(_valid_files(tmp_path))
    assert "4 screenings, 2 participants" in output

    statuses = dict(Screening.objects.values_list("screening_id", "consent_status"))
    assert statuses == {
        "MLT-S0001": "consented",
        "MLT-S0002": "not_eligible",
        "MLT-S0003": "consented",
        "MLT-S0004": "declined",
    }
    screening = Screening.objects.get(screening_id="MLT-S0002")
    assert screening.imported and screening.date_of_birth is None and screening.initials == ""
    assert screening.failed_criteria == ["excl_age"] and screening.screened_by == datamanager

    first = Participant.objects.get(study_id="MLT-001")
    assert first.consent_form_version.version == "imported"
    assert not first.consent_form_version.active
    assert str(first.baseline.bmi) == "23.6"
    allocation = first.allocation
    assert allocation.slot is None and allocation.imported and allocation.pack_code == "P001"
    assert participant_arm(participant=first, user=statistician, reason="test") == "MLT"

    baseline_sfmpq = Response.objects.get(participant=first, visit="baseline", instrument="sf_mpq")
    expected = instruments()["sf_mpq"].score(baseline_sfmpq.answers)
    assert baseline_sfmpq.scoring_version == expected.pop("scoring_version")
    assert baseline_sfmpq.scores == expected and baseline_sfmpq.scores["pri_total"] == 15
    assert not baseline_sfmpq.items_not_answered
    psqi = Response.objects.get(participant=first, visit="m1", instrument="psqi")
    assert psqi.answers["psqi_4"] == 6.5 and psqi.items_not_answered
    assert (
        Response.objects.get(participant=first, visit="baseline", instrument="psqi").answers[
            "psqi_4"
        ]
        == "6:30"
    )
    assert SafetyAlert.objects.get().participant == first  # phq9_9 = 1
    m1 = Visit.objects.get(participant=first, code="m1")
    assert m1.status == VisitStatus.DONE and str(m1.done_on) == "2024-04-06"

    second = Participant.objects.get(study_id="MLT-002")
    assert second.status == "withdrawn" and second.status_reason == "Moved away"
    assert not hasattr(second, "allocation") or second.allocation is None

    # Every record names the importing user in its history and the trail.
    assert first.history.get().history_user == datamanager
    assert not AuditEvent.objects.filter(model="trial.Screening").exclude(user=datamanager)
    summary = AuditEvent.objects.get(model="analysis.TrialDataImport")
    assert summary.user == datamanager and "OS user" in summary.summary
    # Written in bulk, yet each row has exactly the one history row and chained
    # audit line that saving it would give, with the user, the reason and its fields.
    imported_models = [Screening, Participant, Baseline, Allocation, Visit, Response, SafetyAlert]
    for model in imported_models:
        rows = model.objects.count()
        assert model.history.filter(history_type="+").count() == rows, model
        lines = AuditEvent.objects.filter(model=model._meta.label, action="create")
        assert lines.count() == rows, model
        assert set(lines.values_list("reason", flat=True)) == {"Imported by import_trial_data"}
    alert_line = AuditEvent.objects.get(model="questionnaires.SafetyAlert")
    assert alert_line.subject == "MLT-001" and alert_line.object_id == str(
        SafetyAlert.objects.get().pk
    )
    assert alert_line.changes["item9_value"] == [None, 1]
    assert verify_chain().first_broken is None and not verify_chain().problem
    assert summary.changes["screenings"] == 4 and summary.changes["responses"] == 6

    # Later enrolments continue after the imported ids.
    counters = dict(SequenceCounter.objects.values_list("kind", "last_number"))
    assert counters == {"screening": 4, "study_id": 2}


BAD_CELLS = [
    pytest.param(
        "participants.csv", 1, "consent_date", "2024-02-30",
        "participants.csv row 1, column consent_date: '2024-02-30' is not a date (YYYY-MM-DD)",
        id="bad-date",
    ),
    pytest.param(
        "participants.csv", 1, "surgical_site", "middle",
        "participants.csv row 1, column surgical_site: 'middle' is not one of left, right, "
        "bilateral",
        id="bad-choice",
    ),
    pytest.param(
        "screening.csv", 2, "excl_pregnancy", "yes",
        "screening.csv row 2, column excl_pregnancy: 'yes' is not 0 or 1",
        id="bad-boolean",
    ),
    pytest.param(
        "participants.csv", 1, "height_cm", "160.25",
        "participants.csv row 1, column height_cm: '160.25' is not a number with at most one "
        "decimal",
        id="bad-decimal",
    ),
    pytest.param(
        "adverse_events.csv", 1, "study_id", "MLT-099",
        "adverse_events.csv row 1, column study_id: MLT-099 is not in participants.csv",
        id="unknown-study-id",
    ),
    pytest.param(
        "visits.csv", 3, "study_id", "MLT-777",
        "visits.csv row 3, column study_id: MLT-777 is not in participants.csv",
        id="unknown-study-id-visit",
    ),
    pytest.param(
        "screening.csv", 3, "screening_id", "MLT-S0001",
        "screening.csv row 3, column screening_id: duplicate screening_id MLT-S0001 (also row 1)",
        id="duplicate-id",
    ),
    pytest.param(
        "visits.csv", 2, "visit", "baseline",
        "visits.csv row 2, column visit: duplicate visit baseline for MLT-001 (also row 1)",
        id="duplicate-visit",
    ),
    pytest.param(
        "visits.csv", 1, "phq9_3", "4",
        "visits.csv row 1, column phq9_3: must be a whole number from 0 to 3, got 4",
        id="item-out-of-range",
    ),
    pytest.param(
        "visits.csv", 1, "sfmpq_vas_mm", "2.5",
        "visits.csv row 1, column sfmpq_vas_mm: '2.5' is not a whole number",
        id="item-not-integer",
    ),
    pytest.param(
        "visits.csv", 2, "psqi_4", "25",
        "visits.csv row 2, column psqi_4: must be hours from 0 to 24",
        id="psqi-hours-out-of-range",
    ),
    pytest.param(
        "participants.csv", 1, "procedure_date", "2024-02-20",
        "participants.csv row 1, column procedure_date: 2024-02-20: the procedure cannot be "
        "before the screening date 2024-03-01 (screening.csv row 1)",
        id="procedure-before-screening",
    ),
    pytest.param(
        "participants.csv", 2, "consent_date", "2024-03-03",
        "participants.csv row 2, column consent_date: 2024-03-03: consent cannot be before the "
        "screening date 2024-03-04 (screening.csv row 3)",
        id="consent-before-screening",
    ),
    pytest.param(
        "participants.csv", 1, "arm", "",
        "participants.csv row 1, column arm: an imported allocation needs its arm",
        id="pack-without-arm",
    ),
    pytest.param(
        "participants.csv", 1, "arm", "DRUG",
        "participants.csv row 1, column arm: 'DRUG' is not one of MLT, PLACEBO",
        id="unknown-arm",
    ),
    pytest.param(
        "screening.csv", 1, "excl_mlt_allergy", "1",
        "screening.csv row 1, column consented: a screening with an exclusion criterion "
        "(excl_mlt_allergy) cannot be consented",
        id="ineligible-consented",
    ),
    pytest.param(
        "visits.csv", 2, "visit_date", "2024-03-05",
        "visits.csv row 2, column visit_date: 2024-03-05: a follow-up visit cannot be before the "
        "procedure date 2024-03-06",
        id="visit-before-procedure",
    ),
    pytest.param(
        "participants.csv", 1, "status", "completed",
        "participants.csv row 1, column status: status completed needs the m6 visit in visits.csv",
        id="completed-without-m6",
    ),
    pytest.param(
        "adverse_events.csv", 1, "onset_date", "2999-01-01",
        "adverse_events.csv row 1, column onset_date: 2999-01-01 is in the future",
        id="future-date",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "row", "column", "value", "message"), BAD_CELLS)
def test_import_refuses_a_bad_cell_and_writes_nothing(
    datamanager, tmp_path, name, row, column, value, message
):
    directory = _valid_files(tmp_path)
    _set(directory, name, row, column, value)
    before = _clinical_counts()
    with pytest.raises(CommandError) as raised:
        _import(directory)
    assert message in str(raised.value)
    # One bad cell, one problem: a cell already reported does not cascade.
    assert str(raised.value).startswith("Nothing was imported: 1 problem(s)")
    assert _clinical_counts() == before


def test_import_reports_every_problem_and_header_errors(datamanager, tmp_path):
    directory = _valid_files(tmp_path)
    _set(directory, "participants.csv", 1, "surgical_site", "middle")
    _set(directory, "screening.csv", 4, "age", "forty")
    with (directory / "adverse_events.csv").open(encoding="utf-8") as handle:
        text = handle.read()
    header, rest = text.split("\n", 1)
    (directory / "adverse_events.csv").write_text(
        header + ",favourite_colour\n" + rest.replace("\n", ",blue\n"), encoding="utf-8"
    )
    # Columns in any order: reversing visits.csv is still valid.
    with (directory / "visits.csv").open(encoding="utf-8", newline="") as handle:
        records = [list(reversed(record)) for record in csv.reader(handle)]
    _write(directory, "visits.csv", records[0], records[1:])
    before = _clinical_counts()
    with pytest.raises(CommandError) as raised:
        _import(directory)
    message = str(raised.value)
    assert "3 problem(s)" in message
    assert "participants.csv row 1, column surgical_site: 'middle' is not one of" in message
    assert "screening.csv row 4, column age: 'forty' is not a whole number" in message
    assert "adverse_events.csv, column favourite_colour: unknown column" in message
    assert _clinical_counts() == before


def test_import_needs_every_non_item_column(datamanager, tmp_path):
    directory = _valid_files(tmp_path)
    with (directory / "participants.csv").open(encoding="utf-8", newline="") as handle:
        records = [record[:-1] for record in csv.reader(handle)]  # drop status_reason
    _write(directory, "participants.csv", records[0], records[1:])
    with pytest.raises(CommandError, match="participants.csv, column status_reason: missing"):
        _import(directory)


def test_import_refuses_a_database_with_clinical_data(make_participant, datamanager, tmp_path):
    make_participant()
    before = _clinical_counts()
    with pytest.raises(CommandError) as raised:
        _import(_valid_files(tmp_path))
    assert (
        "database: the database already holds 1 screening(s) and 1 participant(s); "
        "import_trial_data imports only into a database without clinical data"
    ) in str(raised.value)
    assert _clinical_counts() == before


def test_import_refuses_pack_codes_of_a_list_here(active_list, datamanager, tmp_path):
    directory = _valid_files(tmp_path)
    _set(directory, "participants.csv", 1, "pack_code", "007")
    with pytest.raises(CommandError) as raised:
        _import(directory)
    assert (
        "participants.csv row 1, column pack_code: 007 is also a pack of the randomization list "
        "Test list in this database"
    ) in str(raised.value)


def test_dry_run_writes_nothing(datamanager, tmp_path):
    output = _import(_valid_files(tmp_path), "datamanager", "--dry-run")
    assert "dry run" in output
    assert _clinical_counts()["screenings"] == 0


# --------------------------------------------------------------------------- round trip


def _wipe_clinical_data() -> None:
    """Delete every clinical row of the test database (children before parents)."""
    from followup.models import (
        Adherence,
        AdverseEvent,
        AssessorExclusion,
        ContactAttempt,
        ContactDetails,
        PhoneInterview,
        StatusEvent,
        Visit,
    )
    from questionnaires.models import Response, SafetyAlert
    from randomization.models import Allocation, ArmAccess, CodeBreak, RandomizationList, Slot
    from trial.models import Baseline, Participant, Screening, SequenceCounter

    for model in (
        SafetyAlert,
        Response,
        AssessorExclusion,
        PhoneInterview,
        ContactAttempt,
        ContactDetails,
        Visit,
        AdverseEvent,
        StatusEvent,
        Adherence,
        CodeBreak,
        ArmAccess,
        Allocation,
        Slot,
        RandomizationList,
        Baseline,
        Participant,
        Screening,
        SequenceCounter,
    ):
        model.objects.all().delete()


def test_round_trip_is_byte_identical(demo_trial, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    call_command("export_trial_data", str(first), "--unblinded", "--user", "statistician")
    _wipe_clinical_data()
    output = _import(first)
    assert "42 screenings, 12 participants" in output
    call_command("export_trial_data", str(second), "--unblinded", "--user", "statistician")
    for name in (*FILES, "administrations.csv"):
        assert (second / name).read_bytes() == (first / name).read_bytes(), name
    # How each questionnaire was given survives it too (the demo has both languages).
    given = _rows(first / "administrations.csv")
    assert given and list(given[0]) == ADMINISTRATIONS_HEADER.split(",")
    assert {row["language"] for row in given} == {"en", "zh-hans"}
    # The demo has arms, serious events, follow-up visits and status changes to carry.
    participants = (first / "participants.csv").read_text(encoding="utf-8")
    assert "MLT," in participants and "PLACEBO," in participants and "withdrawn" in participants
    assert ",m6," in (first / "visits.csv").read_text(encoding="utf-8")
    assert ",1,severe," in (first / "adverse_events.csv").read_text(encoding="utf-8")


def test_round_trip_of_hand_written_files(datamanager, statistician, tmp_path):
    _import(_valid_files(tmp_path / "in"))
    call_command("export_trial_data", str(tmp_path / "a"), "--unblinded", "--user", "statistician")
    visits = _rows(tmp_path / "a" / "visits.csv")
    assert [(r["visit"], r["psqi_4"]) for r in visits] == [
        ("baseline", "6:30"),
        ("m1", "6.5"),
        ("baseline", ""),
    ]
    assert visits[1]["psqi_5j_text"] == 'Partner snores, "loudly"\nand coughs'
    participant = _rows(tmp_path / "a" / "participants.csv")[0]
    assert (participant["arm"], participant["height_cm"], participant["weight_kg"]) == (
        "MLT",
        "160.0",
        "60.5",
    )
    _wipe_clinical_data()
    _import(tmp_path / "a")
    call_command("export_trial_data", str(tmp_path / "b"), "--unblinded", "--user", "statistician")
    for name in FILES:
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name


def test_import_needs_a_site_when_there_are_several(datamanager, other_site, tmp_path):
    directory = _valid_files(tmp_path)
    with pytest.raises(CommandError, match="--site CODE"):
        _import(directory)
    _import(directory, "datamanager", "--site", "wuhan")
    from trial.models import Screening

    assert set(Screening.objects.values_list("site__code", flat=True)) == {"wuhan"}


# --------------------------------------------------------------------------- administrations.csv

ADMINISTRATION_ROWS = [
    ["MLT-001", "baseline", "sf_mpq", "2024-03-05", "in_person", "zh-hans"],
    ["MLT-001", "m1", "gad7", "2024-04-08", "telephone", "zh-hans"],
]


def test_import_takes_date_mode_and_language_from_administrations(datamanager, tmp_path):
    from questionnaires.models import Response

    directory = _valid_files(tmp_path)
    _write(directory, "administrations.csv", ADMINISTRATIONS_HEADER.split(","), ADMINISTRATION_ROWS)
    _import(directory)
    given = {
        (r.participant.study_id, r.visit, r.instrument): (
            str(r.administered_on),
            r.mode,
            r.language,
        )
        for r in Response.objects.select_related("participant")
    }
    assert given[("MLT-001", "baseline", "sf_mpq")] == ("2024-03-05", "in_person", "zh-hans")
    assert given[("MLT-001", "m1", "gad7")] == ("2024-04-08", "telephone", "zh-hans")
    # A questionnaire without a row: in person, English, on the visit date.
    assert given[("MLT-002", "baseline", "gad7")] == ("2024-03-05", "in_person", "en")
    call_command("export_trial_data", str(tmp_path / "out"))
    assert (tmp_path / "out" / "administrations.csv").read_text(encoding="utf-8").splitlines()[
        1:3
    ] == [
        "MLT-001,baseline,sf_mpq,2024-03-05,in_person,zh-hans",
        "MLT-001,baseline,phq9,2024-03-05,in_person,en",
    ]


ADMINISTRATION_PROBLEMS = [
    pytest.param(
        1, "language", "fr",
        "administrations.csv row 1, column language: 'fr' is not one of en, zh-hans",
        id="bad-language",
    ),
    pytest.param(
        2, "mode", "post",
        "administrations.csv row 2, column mode: 'post' is not one of in_person, telephone",
        id="bad-mode",
    ),
    pytest.param(
        2, "instrument", "phq9",
        "administrations.csv row 2, column instrument: visits.csv has no answers to phq9 at m1 "
        "for MLT-001",
        id="not-answered",
    ),
    pytest.param(
        2, "visit", "baseline",
        "administrations.csv row 2, column instrument: visits.csv has no answers to gad7 at "
        "baseline for MLT-001",
        id="wrong-visit",
    ),
    pytest.param(
        2, "administered_on", "2024-02-29",
        "administrations.csv row 2, column administered_on: 2024-02-29 is before the consent "
        "date 2024-03-01",
        id="before-consent",
    ),
    pytest.param(
        2, "administered_on", "2999-01-01",
        "administrations.csv row 2, column administered_on: 2999-01-01 is in the future",
        id="future",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("row", "column", "value", "message"), ADMINISTRATION_PROBLEMS)
def test_import_refuses_a_bad_administration_and_writes_nothing(
    datamanager, tmp_path, row, column, value, message
):
    directory = _valid_files(tmp_path)
    _write(directory, "administrations.csv", ADMINISTRATIONS_HEADER.split(","), ADMINISTRATION_ROWS)
    _set(directory, "administrations.csv", row, column, value)
    before = _clinical_counts()
    with pytest.raises(CommandError) as raised:
        _import(directory)
    assert message in str(raised.value)
    assert str(raised.value).startswith("Nothing was imported: 1 problem(s)")
    assert _clinical_counts() == before


def test_import_refuses_a_questionnaire_given_twice(datamanager, tmp_path):
    directory = _valid_files(tmp_path)
    rows = [*ADMINISTRATION_ROWS, ADMINISTRATION_ROWS[1]]
    _write(directory, "administrations.csv", ADMINISTRATIONS_HEADER.split(","), rows)
    with pytest.raises(CommandError) as raised:
        _import(directory)
    assert (
        "administrations.csv row 3, column instrument: duplicate row for gad7 at m1 of MLT-001 "
        "(also row 2)"
    ) in str(raised.value)


# --------------------------------------------------------------------------- spreadsheet safety

# Free text that a spreadsheet would run as a formula, and a text that itself starts
# with the escape character: each is written with one ' in front and read back as it was.
FORMULA_TERMS = ['=HYPERLINK("x")', "@SUM(A1)", "-abc", "'quoted", "\tTabbed"]


def test_export_neutralises_formulas_and_the_round_trip_restores_them(
    datamanager, statistician, tmp_path
):
    from followup.models import AdverseEvent
    from questionnaires.models import Response
    from trial.models import Participant

    directory = _valid_files(tmp_path / "in")
    extra = [
        ["MLT-001", f"2024-03-{21 + n}", f"Term {n}", "0", "mild", "possible", "recovered"]
        for n in range(len(FORMULA_TERMS) - 1)
    ]
    _write(directory, "adverse_events.csv", ADVERSE_EVENTS_HEADER.split(","), AE_ROWS + extra)
    _import(directory)
    for event, term in zip(AdverseEvent.objects.order_by("onset_date"), FORMULA_TERMS, strict=True):
        AdverseEvent.objects.filter(pk=event.pk).update(term=term)
    Participant.objects.filter(study_id="MLT-002").update(status_reason="+1 cmd")
    psqi = Response.objects.get(participant__study_id="MLT-001", visit="m1", instrument="psqi")
    Response.objects.filter(pk=psqi.pk).update(answers={**psqi.answers, "psqi_5j_text": "-5"})

    first, second = tmp_path / "a", tmp_path / "b"
    call_command("export_trial_data", str(first), "--unblinded", "--user", "statistician")
    events = (first / "adverse_events.csv").read_text(encoding="utf-8")
    assert 'MLT-001,2024-03-20,"\'=HYPERLINK(""x"")",0,' in events
    assert "MLT-001,2024-03-21,'@SUM(A1),0," in events
    assert "MLT-001,2024-03-22,'-abc,0," in events
    assert "MLT-001,2024-03-23,''quoted,0," in events
    assert "MLT-001,2024-03-24,'\tTabbed,0," in events
    reasons = {r["study_id"]: r["status_reason"] for r in _rows(first / "participants.csv")}
    assert reasons == {"MLT-001": "", "MLT-002": "'+1 cmd"}
    # A number in a text cell, and the numbers and dates everywhere, are left alone.
    m1 = [r for r in _rows(first / "visits.csv") if r["visit"] == "m1"][0]
    assert (m1["psqi_5j_text"], m1["psqi_4"], m1["visit_date"]) == ("-5", "6.5", "2024-04-06")

    _wipe_clinical_data()
    _import(first)
    assert sorted(AdverseEvent.objects.values_list("term", flat=True)) == sorted(FORMULA_TERMS)
    assert Participant.objects.get(study_id="MLT-002").status_reason == "+1 cmd"
    call_command("export_trial_data", str(second), "--unblinded", "--user", "statistician")
    for name in (*FILES, "administrations.csv"):
        assert (second / name).read_bytes() == (first / name).read_bytes(), name


def test_import_reads_one_leading_quote_as_the_escape(datamanager, tmp_path):
    from followup.models import AdverseEvent

    directory = _valid_files(tmp_path)
    _set(directory, "adverse_events.csv", 1, "term", "''=1")
    # Cells that are not free text are escaped the same way (a pack code, say).
    _set(directory, "participants.csv", 1, "pack_code", "'P001")
    _import(directory)
    assert AdverseEvent.objects.get().term == "'=1"
    from randomization.models import Allocation

    assert Allocation.objects.get().pack_code == "P001"


# --------------------------------------------------------------------------- NUL characters

NUL_CELLS = [
    pytest.param("adverse_events.csv", 1, "term", "Nau\x00sea", id="free-text"),
    pytest.param("participants.csv", 2, "status_reason", "\x00", id="status-reason"),
    pytest.param("screening.csv", 1, "screening_id", "MLT-S0001\x00", id="id"),
    pytest.param("visits.csv", 2, "psqi_5j_text", "Snores\x00", id="item-text"),
    pytest.param("visits.csv", 1, "visit", "baseline\x00", id="choice"),
    pytest.param("participants.csv", 1, "height_cm", "160.0\x00", id="number"),
]


@pytest.mark.parametrize(("name", "row", "column", "value"), NUL_CELLS)
def test_import_refuses_a_nul_character_and_writes_nothing(
    datamanager, tmp_path, name, row, column, value
):
    # PostgreSQL cannot store NUL in text; SQLite can. Either way the file is refused
    # before anything is written, with the cell named like every other problem.
    directory = _valid_files(tmp_path)
    _set(directory, name, row, column, value)
    before = _clinical_counts()
    with pytest.raises(CommandError) as raised:
        _import(directory)
    message = str(raised.value)
    assert f"{name} row {row}, column {column}: contains a NUL character" in message
    assert message.startswith("Nothing was imported: 1 problem(s)")
    assert "\x00" not in message
    assert _clinical_counts() == before


def test_import_refuses_a_nul_character_in_the_header(datamanager, tmp_path):
    directory = _valid_files(tmp_path)
    text = (directory / "adverse_events.csv").read_text(encoding="utf-8")
    (directory / "adverse_events.csv").write_text(
        text.replace("term", "te\x00rm", 1), encoding="utf-8"
    )
    with pytest.raises(CommandError) as raised:
        _import(directory)
    message = str(raised.value)
    assert "adverse_events.csv, column te\\x00rm: contains a NUL character" in message
    assert "\x00" not in message
    assert _clinical_counts()["screenings"] == 0
