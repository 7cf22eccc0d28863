"""Export layer: the interchange tables as SAS transport files and as CDISC ODM 1.3 XML.

The tables are the four files of contracts.md §3, built by the same code as
the CSV export (``analysis.interchange.collect``) and typed by the same column
declarations, so a variable means the same thing in CSV, XPT and ODM. Labels
of item columns come from the codebook (``questionnaires.codebook``); the
other columns carry the short English labels declared in ``interchange``.

Blinding: arms are read only through ``interchange.arms_for_export`` (which
uses ``randomization.unblinded``); a blinded table has an ``arm`` column with
no values, so neither writer ever writes an arm.

SAS transport: one ``.xpt`` per table, written with pyreadstat in version 8
format (read in SAS 9.4 with the ``%XPT2LOC`` macro, and by pyreadstat, R
haven and others). Version 5 limits variable names to 8 characters and labels
to 40, and the contract's names (``screening_date``, ``sfmpq_tiring_exhausting``)
and the codebook's labels are longer; shortening them would break the one
vocabulary of the CSV, XPT and ODM files. Dates are SAS dates, whole numbers
and 0/1 are doubles, the rest (ids, choices, clock times, ``psqi_4``) text.

ODM: subjects are keyed by study id (by screening id for screened patients who
did not consent). Study events: SCREENING (the screening form), BASELINE (the
participant, baseline and visit forms and the baseline questionnaires), M1,
M3, M6 (visit form and questionnaires, each questionnaire with the date, mode
and language it was given in) and AE (one repeating item group per
adverse event). Missing values are left out, as ODM expects.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from django.utils import timezone, translation

from questionnaires.codebook import codebook_rows
from questionnaires.definitions import instruments
from questionnaires.visits import trial_schedule
from trial.models import ChemoRegimen, ParticipantStatus, ProcedureType, SurgicalSite

from . import interchange
from .interchange import (
    ADMINISTRATIONS_FILE,
    ADVERSE_EVENTS_FILE,
    PARTICIPANTS_FILE,
    SCREENING_FILE,
    VISITS_FILE,
    Column,
    file_columns,
)

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XPT_VERSION = 8
STUDY_OID = "ST.MLT"
MDV_OID = "MDV.1"

# Table name (the XPT member and file name) of each interchange file.
TABLE_NAMES = {
    SCREENING_FILE: "screening",
    PARTICIPANTS_FILE: "participants",
    VISITS_FILE: "visits",
    ADVERSE_EVENTS_FILE: "adverse_events",
    ADMINISTRATIONS_FILE: "administrations",
}
_INTEGER_ITEM_KINDS = ("choice", "vas", "minutes", "points")


# --------------------------------------------------------------------------- tables


def columns_by_table() -> dict[str, tuple[Column, ...]]:
    return {TABLE_NAMES[name]: columns for name, columns in file_columns().items()}


def _is_integer(column: Column) -> bool:
    if column.kind in ("bool", "int"):
        return True
    return (
        column.kind == "item"
        and column.item is not None
        and column.item.kind in (_INTEGER_ITEM_KINDS)
    )


def _series(column: Column, values: list[Any]) -> pd.Series:
    if _is_integer(column):
        return pd.Series(
            [None if v is None else int(v) for v in values], dtype="Int64", name=column.name
        )
    if column.kind == "decimal":
        return pd.Series(
            [math.nan if v is None else float(v) for v in values], dtype="float64", name=column.name
        )
    if column.kind == "date":
        return pd.Series(values, dtype=object, name=column.name)
    # Text, ids, choices, clock times and psqi_4: the CSV cell text itself.
    return pd.Series(
        [None if v is None else interchange.format_cell(v) for v in values],
        dtype=object,
        name=column.name,
    )


def frames(rows: Mapping[str, list[dict[str, Any]]]) -> dict[str, pd.DataFrame]:
    """Typed DataFrames from ``interchange.collect`` rows, keyed by table name."""
    result = {}
    for name, columns in file_columns().items():
        data = {
            column.name: _series(column, [row.get(column.name) for row in rows[name]])
            for column in columns
        }
        result[TABLE_NAMES[name]] = pd.DataFrame(data, columns=[c.name for c in columns])
    return result


def tables(*, user, unblinded: bool) -> dict[str, pd.DataFrame]:
    """The four interchange tables; ``arm`` is filled only when ``unblinded`` (and
    the user may see arms: PermissionDenied otherwise; the read is logged)."""
    arms = interchange.arms_for_export(user=user, unblinded=unblinded, purpose="analysis export")
    return frames(interchange.collect(arms=arms))


def column_labels(codebook: Iterable[Mapping[str, str]] | None = None) -> dict[str, str]:
    """Label of every column name: the codebook's for items, the declared one otherwise."""
    with translation.override("en"):
        rows = list(codebook) if codebook is not None else codebook_rows("en")
    labels = {
        column.name: column.label for columns in file_columns().values() for column in columns
    }
    labels.update({row["item_key"]: row["label"] for row in rows if row["item_key"] in labels})
    return labels


# --------------------------------------------------------------------------- SAS transport


def write_xpt(
    tables: Mapping[str, pd.DataFrame],
    directory: Path | str,
    codebook: Iterable[Mapping[str, str]] | None = None,
) -> list[Path]:
    """One SAS transport file (version 8) per table, with variable labels."""
    import pyreadstat

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    labels = column_labels(codebook)
    paths = []
    for name, frame in tables.items():
        path = directory / f"{name}.xpt"
        pyreadstat.write_xport(
            frame,
            str(path),
            file_label=f"MLT trial {name}",
            column_labels={column: labels.get(column) for column in frame.columns},
            table_name=name,
            file_format_version=XPT_VERSION,
        )
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- ODM


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def odm_value(column: Column, value: Any) -> str | None:
    """The text of one table value in ODM (the CSV's canonical text), None if missing."""
    if _missing(value):
        return None
    if isinstance(value, date):
        return value.isoformat()
    if column.kind == "decimal":
        return f"{float(value):.1f}"
    if _is_integer(column):
        return str(int(value))
    return str(value)


def _oid(prefix: str, name: str) -> str:
    return f"{prefix}.{name.upper()}"


def _translated(parent: ET.Element, tag: str, text: str) -> None:
    element = ET.SubElement(parent, tag)
    ET.SubElement(element, "TranslatedText", {XML_LANG: "en"}).text = text


def _data_type(column: Column) -> str:
    if _is_integer(column):
        return "integer"
    return {"date": "date", "decimal": "float"}.get(column.kind, "text")


def _choice_decodes(column: Column) -> list[tuple[str, str]] | None:
    """(coded value, decode) pairs for columns with a code list."""
    if column.kind == "bool":
        return [("0", "No"), ("1", "Yes")]
    if column.kind == "item" and column.item is not None and column.item.kind == "choice":
        return [(str(option.value), str(option.label)) for option in column.item.options]
    if column.kind == "choice":
        labelled = {
            "surgical_site": SurgicalSite,
            "procedure_type": ProcedureType,
            "chemo_regimen": ChemoRegimen,
            "status": ParticipantStatus,
        }
        choices = labelled.get(column.name)
        if choices is not None:
            return [(value, str(label)) for value, label in choices.choices]
        return [(value, value) for value in column.choices]
    return None


class _Forms:
    """The ODM forms: which table columns each item group holds."""

    def __init__(self) -> None:
        by_table = columns_by_table()
        screening = by_table["screening"]
        participants = {c.name: c for c in by_table["participants"]}
        visits = {c.name: c for c in by_table["visits"]}
        baseline_names = interchange.BASELINE_COLUMNS
        self.forms: dict[str, tuple[str, list[Column]]] = {
            "SCREENING": ("Screening", [c for c in screening if c.name != "study_id"]),
            "PARTICIPANT": (
                "Participant: consent, allocation, study status",
                [
                    c
                    for name, c in participants.items()
                    if name != "study_id" and name not in baseline_names
                ],
            ),
            "BASELINE": ("Baseline case report form", [participants[n] for n in baseline_names]),
            "VISIT": ("Visit", [visits["visit_date"]]),
        }
        # Each questionnaire's form carries its items and how it was given.
        given = [
            c
            for c in by_table["administrations"]
            if c.name not in ("study_id", "visit", "instrument")
        ]
        self.instrument_forms: dict[str, str] = {}  # form OID -> instrument key
        for key, instrument in instruments().items():
            oid = key.upper()
            self.forms[oid] = (
                str(instrument.name),
                [visits[k] for k in instrument.item_keys] + given,
            )
            self.instrument_forms[oid] = key
        self.forms["AE"] = (
            "Adverse events",
            [c for c in by_table["adverse_events"] if c.name != "study_id"],
        )
        self.events = [
            ("SCREENING", "Screening", "Scheduled", ["SCREENING"]),
            (
                "BASELINE",
                "Baseline",
                "Scheduled",
                ["PARTICIPANT", "BASELINE", "VISIT", *self.instrument_forms],
            ),
            *(
                (visit.code.upper(), visit.label, "Scheduled", ["VISIT", *self.instrument_forms])
                for visit in trial_schedule().follow_up
            ),
            ("AE", "Adverse events", "Common", ["AE"]),
        ]


def _metadata(study: ET.Element, forms: _Forms, labels: Mapping[str, str]) -> None:
    mdv = ET.SubElement(
        study, "MetaDataVersion", {"OID": MDV_OID, "Name": "MLT trial interchange, contracts §3"}
    )
    protocol = ET.SubElement(mdv, "Protocol")
    for order, (oid, _name, _type, _forms) in enumerate(forms.events, start=1):
        ET.SubElement(
            protocol,
            "StudyEventRef",
            {"StudyEventOID": _oid("SE", oid), "OrderNumber": str(order), "Mandatory": "No"},
        )
    for oid, name, kind, form_oids in forms.events:
        event = ET.SubElement(
            mdv,
            "StudyEventDef",
            {"OID": _oid("SE", oid), "Name": name, "Repeating": "No", "Type": kind},
        )
        for order, form_oid in enumerate(form_oids, start=1):
            ET.SubElement(
                event,
                "FormRef",
                {"FormOID": _oid("F", form_oid), "OrderNumber": str(order), "Mandatory": "No"},
            )
    for oid, (name, _columns) in forms.forms.items():
        form = ET.SubElement(
            mdv, "FormDef", {"OID": _oid("F", oid), "Name": name, "Repeating": "No"}
        )
        ET.SubElement(form, "ItemGroupRef", {"ItemGroupOID": _oid("IG", oid), "Mandatory": "No"})
    for oid, (name, columns) in forms.forms.items():
        group = ET.SubElement(
            mdv,
            "ItemGroupDef",
            {"OID": _oid("IG", oid), "Name": name, "Repeating": "Yes" if oid == "AE" else "No"},
        )
        for order, column in enumerate(columns, start=1):
            ET.SubElement(
                group,
                "ItemRef",
                {
                    "ItemOID": _oid("IT", column.name),
                    "OrderNumber": str(order),
                    "Mandatory": "Yes" if column.required else "No",
                },
            )
    defined: dict[str, Column] = {}
    for _name, columns in forms.forms.values():
        for column in columns:
            defined.setdefault(column.name, column)
    code_lists = []
    for column in defined.values():
        attributes = {
            "OID": _oid("IT", column.name),
            "Name": column.name,
            "DataType": _data_type(column),
        }
        if column.kind == "decimal":
            attributes["SignificantDigits"] = "1"
        if column.max_length:
            attributes["Length"] = str(column.max_length)
        item = ET.SubElement(mdv, "ItemDef", attributes)
        _translated(item, "Question", labels.get(column.name, column.name))
        decodes = _choice_decodes(column)
        if decodes is not None:
            ET.SubElement(item, "CodeListRef", {"CodeListOID": _oid("CL", column.name)})
            code_lists.append((column, decodes))
    for column, decodes in code_lists:
        code_list = ET.SubElement(
            mdv,
            "CodeList",
            {
                "OID": _oid("CL", column.name),
                "Name": column.name,
                "DataType": "integer" if _is_integer(column) else "text",
            },
        )
        for coded, decode in decodes:
            entry = ET.SubElement(code_list, "CodeListItem", {"CodedValue": coded})
            _translated(entry, "Decode", decode)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.astype(object).to_dict("records")


def _item_group(
    parent: ET.Element,
    form_oid: str,
    columns: list[Column],
    row: Mapping[str, Any],
    repeat_key: int | None = None,
) -> bool:
    values = [(column, odm_value(column, row.get(column.name))) for column in columns]
    values = [(column, text) for column, text in values if text is not None]
    if not values:
        return False
    attributes = {"ItemGroupOID": _oid("IG", form_oid)}
    if repeat_key is not None:
        attributes["ItemGroupRepeatKey"] = str(repeat_key)
    group = ET.SubElement(parent, "ItemGroupData", attributes)
    for column, text in values:
        ET.SubElement(group, "ItemData", {"ItemOID": _oid("IT", column.name), "Value": text})
    return True


def _form(event: ET.Element, forms: _Forms, form_oid: str, rows: list[Mapping[str, Any]]) -> None:
    form = ET.Element("FormData", {"FormOID": _oid("F", form_oid)})
    columns = forms.forms[form_oid][1]
    repeating = form_oid == "AE"
    written = False
    for index, row in enumerate(rows, start=1):
        written |= _item_group(form, form_oid, columns, row, index if repeating else None)
    if written:
        event.append(form)


def _clinical_data(odm_study_root: ET.Element, forms: _Forms, tables) -> None:
    clinical = ET.SubElement(
        odm_study_root, "ClinicalData", {"StudyOID": STUDY_OID, "MetaDataVersionOID": MDV_OID}
    )
    participants = {row["study_id"]: row for row in _records(tables["participants"])}
    visits: dict[str, dict[str, Mapping[str, Any]]] = {}
    for row in _records(tables["visits"]):
        visits.setdefault(row["study_id"], {})[row["visit"]] = row
    given = {
        (row["study_id"], row["visit"], row["instrument"]): row
        for row in _records(tables["administrations"])
    }

    def questionnaires(study_id: str, code: str, row: Mapping[str, Any]):
        return [
            (oid, [{**row, **given.get((study_id, code, key), {})}])
            for oid, key in forms.instrument_forms.items()
        ]

    events: dict[str, list[Mapping[str, Any]]] = {}
    for row in _records(tables["adverse_events"]):
        events.setdefault(row["study_id"], []).append(row)

    subjects: list[tuple[str, Mapping[str, Any] | None]] = []
    for row in _records(tables["screening"]):
        study_id = row.get("study_id")
        key = study_id if not _missing(study_id) else row["screening_id"]
        subjects.append((key, row))
    known = {key for key, _row in subjects}
    subjects.extend((study_id, None) for study_id in participants if study_id not in known)

    for key, screening in subjects:
        subject = ET.SubElement(clinical, "SubjectData", {"SubjectKey": key})
        planned: list[tuple[str, list[tuple[str, list[Mapping[str, Any]]]]]] = []
        if screening is not None:
            planned.append(("SCREENING", [("SCREENING", [screening])]))
        participant = participants.get(key)
        subject_visits = visits.get(key, {})
        if participant is not None or "baseline" in subject_visits:
            baseline_visit = subject_visits.get("baseline")
            baseline_forms = []
            if participant is not None:
                baseline_forms += [("PARTICIPANT", [participant]), ("BASELINE", [participant])]
            if baseline_visit is not None:
                baseline_forms += [("VISIT", [baseline_visit])]
                baseline_forms += questionnaires(key, "baseline", baseline_visit)
            planned.append(("BASELINE", baseline_forms))
        for code in interchange.follow_up_visits():
            row = subject_visits.get(code)
            if row is not None:
                planned.append(
                    (
                        code.upper(),
                        [("VISIT", [row]), *questionnaires(key, code, row)],
                    )
                )
        if key in events:
            planned.append(("AE", [("AE", events[key])]))
        for event_oid, event_forms in planned:
            event = ET.Element("StudyEventData", {"StudyEventOID": _oid("SE", event_oid)})
            for form_oid, rows in event_forms:
                _form(event, forms, form_oid, rows)
            if len(event):
                subject.append(event)


def write_odm(
    tables: Mapping[str, pd.DataFrame],
    path: Path | str,
    codebook: Iterable[Mapping[str, str]] | None = None,
) -> Path:
    """Write the tables as one CDISC ODM 1.3 snapshot (metadata and clinical data)."""
    ET.register_namespace("", ODM_NS)
    now = timezone.now().replace(microsecond=0)
    forms = _Forms()
    labels = column_labels(codebook)
    with translation.override("en"):
        root = ET.Element(
            f"{{{ODM_NS}}}ODM",
            {
                "FileType": "Snapshot",
                "FileOID": f"MLT.interchange.{now:%Y%m%dT%H%M%S}",
                "CreationDateTime": now.isoformat(),
                "ODMVersion": "1.3",
                "Originator": "mlt-trial",
            },
        )
        study = ET.SubElement(root, "Study", {"OID": STUDY_OID})
        global_variables = ET.SubElement(study, "GlobalVariables")
        ET.SubElement(global_variables, "StudyName").text = "MLT trial"
        ET.SubElement(
            global_variables, "StudyDescription"
        ).text = "Magnesium-L-threonate for persistent pain after breast cancer surgery"
        ET.SubElement(global_variables, "ProtocolName").text = "MLT"
        _metadata(study, forms, labels)
        _clinical_data(root, forms, tables)
    # Every element is in the ODM namespace (the default namespace of the file).
    for element in root.iter():
        if isinstance(element.tag, str) and not element.tag.startswith("{"):
            element.tag = f"{{{ODM_NS}}}{element.tag}"
    ET.indent(root)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)
    return path
