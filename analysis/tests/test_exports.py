"""SAS transport and CDISC ODM exports, built from the same tables as the CSV files."""

from __future__ import annotations

import csv
import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from conftest import TEST_PASSWORD

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
TABLE_FILES = {
    "screening": "screening.csv",
    "participants": "participants.csv",
    "visits": "visits.csv",
    "adverse_events": "adverse_events.csv",
    "administrations": "administrations.csv",
}


@pytest.fixture
def demo_trial(db):
    from trial.demo import seed_demo

    seed_demo(password=TEST_PASSWORD, participants=12)
    return get_user_model().objects.get(username="statistician")


def _csv(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _text(frame_value, column) -> str:
    from analysis.exports import odm_value

    return odm_value(column, frame_value) or ""


def test_tables_are_the_csv_files_typed(demo_trial, tmp_path):
    from analysis.exports import columns_by_table, tables

    call_command("export_trial_data", str(tmp_path), "--unblinded", "--user", "statistician")
    frames = tables(user=demo_trial, unblinded=True)
    assert list(frames) == list(TABLE_FILES)
    columns = columns_by_table()
    for name, frame in frames.items():
        rows = _csv(tmp_path / TABLE_FILES[name])
        assert list(frame.columns) == list(rows[0]) if rows else True
        assert len(frame) == len(rows)
        for record, row in zip(frame.astype(object).to_dict("records"), rows, strict=True):
            assert {c.name: _text(record[c.name], c) for c in columns[name]} == row
    assert str(frames["participants"]["height_cm"].dtype) == "float64"
    assert str(frames["visits"]["phq9_9"].dtype) == "Int64"
    assert isinstance(frames["screening"]["screening_date"].iloc[0], dt.date)


def test_blinded_tables_have_no_arms_and_unblinded_needs_permission(demo_trial):
    from analysis.exports import tables

    blinded = tables(user=None, unblinded=False)
    assert blinded["participants"]["arm"].isna().all()
    datamanager = get_user_model().objects.get(username="datamanager")
    with pytest.raises(PermissionDenied):
        tables(user=datamanager, unblinded=True)
    unblinded = tables(user=demo_trial, unblinded=True)
    assert set(unblinded["participants"]["arm"].dropna()) == {"MLT", "PLACEBO"}


def test_xpt_reads_back_with_rows_and_labels(demo_trial, tmp_path):
    import pyreadstat

    from analysis.exports import tables, write_xpt

    frames = tables(user=demo_trial, unblinded=True)
    paths = write_xpt(frames, tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"{name}.xpt" for name in TABLE_FILES)
    for name, frame in frames.items():
        data, meta = pyreadstat.read_xport(str(tmp_path / f"{name}.xpt"))
        assert meta.table_name == name
        assert list(data.columns) == list(frame.columns)
        assert len(data) == len(frame)
        assert all(meta.column_names_to_labels[c] for c in frame.columns), name
        for column in frame.columns:
            original = frame[column].astype(object).tolist()
            read = data[column].tolist()
            for before, after in zip(original, read, strict=True):
                if _is_na(before):
                    assert after in ("", None) or _is_na(after)
                elif isinstance(before, dt.date | str):
                    assert after == before
                else:
                    assert float(after) == pytest.approx(float(before))
    _data, meta = pyreadstat.read_xport(str(tmp_path / "visits.xpt"))
    labels = meta.column_names_to_labels
    assert labels["sfmpq_throbbing"] == "Throbbing"
    assert labels["phq9_9"] == "Thoughts of death or self-harm"
    assert labels["visit_date"] == "Visit date"
    _data, meta = pyreadstat.read_xport(str(tmp_path / "screening.xpt"))
    assert meta.column_names_to_labels["excl_age"].startswith("Exclusion: age")


def _is_na(value) -> bool:
    return value is None or str(value) in ("<NA>", "nan", "NaT")


def _parse(path) -> ET.ElementTree:
    return ET.parse(path)  # noqa: S314 - a file this test has just written


def _odm_values(root) -> set[tuple[str, str, str, str]]:
    """(subject, study event, item OID, value) of every ItemData."""
    found = set()
    for subject in root.iterfind("odm:ClinicalData/odm:SubjectData", NS):
        for event in subject.iterfind("odm:StudyEventData", NS):
            for item in event.iterfind(".//odm:ItemData", NS):
                found.add(
                    (
                        subject.get("SubjectKey"),
                        event.get("StudyEventOID"),
                        item.get("ItemOID"),
                        item.get("Value"),
                    )
                )
    return found


def test_odm_is_well_formed_complete_and_consistent(demo_trial, tmp_path):
    from analysis.exports import tables, write_odm
    from questionnaires.definitions import all_item_keys

    frames = tables(user=demo_trial, unblinded=True)
    root = _parse(write_odm(frames, tmp_path / "trial.xml")).getroot()
    assert root.tag == "{http://www.cdisc.org/ns/odm/v1.3}ODM"
    assert root.get("ODMVersion") == "1.3" and root.get("FileOID")
    dt.datetime.fromisoformat(root.get("CreationDateTime"))
    study = root.find("odm:Study", NS)
    assert study.find("odm:GlobalVariables/odm:StudyName", NS).text
    mdv = study.find("odm:MetaDataVersion", NS)
    events = {e.get("OID") for e in mdv.iterfind("odm:StudyEventDef", NS)}
    assert {"SE.BASELINE", "SE.M1", "SE.M3", "SE.M6"} <= events
    forms = {f.get("OID") for f in mdv.iterfind("odm:FormDef", NS)}
    assert {"F.SF_MPQ", "F.GAD7", "F.PHQ9", "F.PSQI", "F.TICS", "F.PARTICIPANT", "F.BASELINE"} <= (
        forms
    )
    groups = {g.get("OID") for g in mdv.iterfind("odm:ItemGroupDef", NS)}
    item_defs = {i.get("OID"): i for i in mdv.iterfind("odm:ItemDef", NS)}
    code_lists = {c.get("OID") for c in mdv.iterfind("odm:CodeList", NS)}
    names = {i.get("Name") for i in item_defs.values()}
    assert set(all_item_keys()) <= names
    assert item_defs["IT.PHQ9_9"].get("DataType") == "integer"
    assert item_defs["IT.PHQ9_9"].find("odm:CodeListRef", NS).get("CodeListOID") == "CL.PHQ9_9"
    assert item_defs["IT.PSQI_1"].get("DataType") == "text"
    assert item_defs["IT.VISIT_DATE"].get("DataType") == "date"
    assert item_defs["IT.HEIGHT_CM"].get("DataType") == "float"
    question = item_defs["IT.SFMPQ_THROBBING"].find("odm:Question/odm:TranslatedText", NS)
    assert question.text == "Throbbing"
    # Every reference resolves.
    for ref in mdv.iterfind(".//odm:StudyEventRef", NS):
        assert ref.get("StudyEventOID") in events
    for ref in mdv.iterfind(".//odm:FormRef", NS):
        assert ref.get("FormOID") in forms
    for ref in mdv.iterfind(".//odm:ItemGroupRef", NS):
        assert ref.get("ItemGroupOID") in groups
    for ref in mdv.iterfind(".//odm:ItemRef", NS):
        assert ref.get("ItemOID") in item_defs
    for ref in mdv.iterfind(".//odm:CodeListRef", NS):
        assert ref.get("CodeListOID") in code_lists

    # Every subject and every value of the tables is in the clinical data.
    subjects = [s.get("SubjectKey") for s in root.iterfind(".//odm:SubjectData", NS)]
    screening = frames["screening"].astype(object).to_dict("records")
    expected_keys = [
        r["study_id"] if isinstance(r["study_id"], str) else r["screening_id"] for r in screening
    ]
    assert subjects == expected_keys
    values = _odm_values(root)
    assert {v[2] for v in values} <= set(item_defs)
    expected = set()
    for row in screening:
        key = row["study_id"] if isinstance(row["study_id"], str) else row["screening_id"]
        for column in frames["screening"].columns:
            if column != "study_id" and not _is_na(row[column]):
                expected.add((key, "SE.SCREENING", f"IT.{column.upper()}", _odm_text(row[column])))
    for row in frames["participants"].astype(object).to_dict("records"):
        for column in frames["participants"].columns:
            if column != "study_id" and not _is_na(row[column]):
                text = _odm_text(row[column], decimal=column in ("height_cm", "weight_kg"))
                expected.add((row["study_id"], "SE.BASELINE", f"IT.{column.upper()}", text))
    for row in frames["visits"].astype(object).to_dict("records"):
        event = f"SE.{row['visit'].upper()}"
        for column in frames["visits"].columns:
            if column not in ("study_id", "visit") and not _is_na(row[column]):
                expected.add(
                    (row["study_id"], event, f"IT.{column.upper()}", _odm_text(row[column]))
                )
    for row in frames["adverse_events"].astype(object).to_dict("records"):
        for column in frames["adverse_events"].columns:
            if column != "study_id":
                expected.add(
                    (row["study_id"], "SE.AE", f"IT.{column.upper()}", _odm_text(row[column]))
                )
    assert expected - values == set()
    # Each questionnaire's form says when, how and in which language it was given.
    given = frames["administrations"].astype(object).to_dict("records")
    assert {row["language"] for row in given} == {"en", "zh-hans"}
    for row in given:
        path = (
            f"odm:ClinicalData/odm:SubjectData[@SubjectKey='{row['study_id']}']"
            f"/odm:StudyEventData[@StudyEventOID='SE.{row['visit'].upper()}']"
            f"/odm:FormData[@FormOID='F.{row['instrument'].upper()}']/odm:ItemGroupData"
        )
        (group,) = root.findall(path, NS)
        items = {i.get("ItemOID"): i.get("Value") for i in group.iterfind("odm:ItemData", NS)}
        assert items["IT.LANGUAGE"] == row["language"] and items["IT.MODE"] == row["mode"]
        assert items["IT.ADMINISTERED_ON"] == row["administered_on"].isoformat()
    assert item_defs["IT.LANGUAGE"].find("odm:CodeListRef", NS) is not None
    assert ("MLT-001", "SE.BASELINE", "IT.ARM", "MLT") in values or (
        "MLT-001",
        "SE.BASELINE",
        "IT.ARM",
        "PLACEBO",
    ) in values
    repeat_keys = [
        g.get("ItemGroupRepeatKey")
        for g in root.iterfind(".//odm:ItemGroupData[@ItemGroupOID='IG.AE']", NS)
    ]
    assert repeat_keys and all(repeat_keys)

    blinded = _parse(write_odm(tables(user=None, unblinded=False), tmp_path / "b.xml")).getroot()
    assert not [v for v in _odm_values(blinded) if v[2] == "IT.ARM"]


def _odm_text(value, decimal: bool = False) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if decimal:
        return f"{float(value):.1f}"
    if isinstance(value, str):
        return value
    return str(int(value))


def test_export_command_writes_xpt_and_odm(demo_trial, tmp_path):
    call_command("export_trial_data", str(tmp_path), "--xpt", "--odm", "--user", "datamanager")
    names = {p.name for p in tmp_path.iterdir()}
    assert {"screening.xpt", "visits.xpt", "trial_data.odm.xml", "visits.csv"} <= names
    root = _parse(tmp_path / "trial_data.odm.xml").getroot()
    assert not [v for v in _odm_values(root) if v[2] == "IT.ARM"]


def test_only_the_csv_files_escape_text_that_looks_like_a_formula(demo_trial, tmp_path):
    # A spreadsheet opens the CSV files, so there the term gets its leading '; SAS
    # transport and ODM are read by programs and carry the text exactly as stored.
    import pyreadstat

    from analysis.exports import tables, write_odm, write_xpt
    from followup.models import AdverseEvent
    from trial.spreadsheet import restore_cell

    term = '=HYPERLINK("x")'
    event = AdverseEvent.objects.order_by("pk").first()
    AdverseEvent.objects.filter(pk=event.pk).update(term=term)
    call_command("export_trial_data", str(tmp_path), "--unblinded", "--user", "statistician")
    written = [row["term"] for row in _csv(tmp_path / "adverse_events.csv")]
    assert "'" + term in written and term not in written
    frames = tables(user=demo_trial, unblinded=True)
    assert term in frames["adverse_events"]["term"].tolist()
    assert sorted(frames["adverse_events"]["term"]) == sorted(map(restore_cell, written))
    write_xpt(frames, tmp_path)
    data, _meta = pyreadstat.read_xport(str(tmp_path / "adverse_events.xpt"))
    assert term in data["term"].tolist()
    root = _parse(write_odm(frames, tmp_path / "trial.xml")).getroot()
    assert term in {value for *_key, value in _odm_values(root)}
