"""Export of the interchange files (contracts.md §3): typed rows, CSV files, the audit line.

:func:`collect` turns the reads of ``analysis.selectors`` into each file's rows as
typed values (``date``, ``int``, ``bool``, ``Decimal``, ``str``, ``None``), in the
export's row order; :func:`write_files` writes them with ``format_cell`` (the
parser's inverse) and the spreadsheet escape; :func:`export_files` does both and
audits the export. Arms are read only through
``randomization.unblinded.arms_by_participant`` (:func:`arms_for_export`); a
blinded export leaves ``arm`` empty.
"""

from __future__ import annotations

import csv
import getpass
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import transaction

from questionnaires.definitions import instruments
from randomization.unblinded import arms_by_participant
from trial import spreadsheet
from trial.audit import audit_event
from trial.eligibility import EXCLUSION_CRITERIA
from trial.models import Screening

from . import selectors
from .interchange_columns import (
    ADMINISTRATIONS_FILE,
    ADVERSE_EVENT_COLUMNS,
    ADVERSE_EVENTS_FILE,
    BASELINE_COLUMNS,
    PARTICIPANT_COLUMNS,
    PARTICIPANTS_FILE,
    SCREENING_FILE,
    VISITS_FILE,
    file_columns,
    item_columns,
    visit_columns,
    visit_order,
)
from .interchange_parse import format_cell

UNBLINDED_NEEDS_PERMISSION = "An unblinded export needs the randomization.view_arm permission."
_ITERATOR_CHUNK = 2000  # rows fetched at a time from the two largest tables

Row = dict[str, Any]


def arms_for_export(*, user, unblinded: bool, purpose: str) -> dict[int, str] | None:
    """Arms by participant id for an unblinded export, None for a blinded one.

    Raises PermissionDenied when the user may not see arms; the read is logged
    by ``randomization.unblinded``.
    """
    if not unblinded:
        return None
    if user is None or not user.has_perm("randomization.view_arm"):
        raise PermissionDenied(UNBLINDED_NEEDS_PERMISSION)
    return arms_by_participant(user=user, reason=purpose)


# --------------------------------------------------------------------------- rows


def _one_decimal(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.1"))


def _related(instance, name: str):
    try:
        return getattr(instance, name)
    except ObjectDoesNotExist:  # a reverse one-to-one without its row
        return None


def _screening_rows() -> list[Row]:
    rows = []
    for screening in selectors.screenings_for_export():
        consented = screening.consent_status == Screening.ConsentStatus.CONSENTED
        participant = _related(screening, "participant") if consented else None
        rows.append(
            {
                "screening_id": screening.screening_id,
                "screening_date": screening.screening_date,
                "age": screening.age_at_screening,
                **{key: getattr(screening, key) for key in EXCLUSION_CRITERIA},
                "consented": consented,
                "study_id": participant.study_id if participant else None,
            }
        )
    return rows


def _participant_rows(arms: Mapping[int, str] | None) -> list[Row]:
    rows = []
    for participant in selectors.participants_for_export():
        baseline = _related(participant, "baseline")
        allocation = _related(participant, "allocation")
        row: Row = {
            "study_id": participant.study_id,
            "arm": arms.get(participant.pk) if arms is not None else None,
            "pack_code": allocation.pack_code if allocation else None,
            "consent_date": participant.consent_date,
            "randomization_date": allocation.randomized_on if allocation else None,
            "age": participant.screening.age_at_screening,
        }
        for name in BASELINE_COLUMNS:
            value = getattr(baseline, name) if baseline else None
            row[name] = _one_decimal(value) if name in ("height_cm", "weight_kg") else value
        row.update(
            status=participant.status,
            status_date=participant.status_date,
            status_reason=participant.status_reason or None,
        )
        rows.append({column.name: row.get(column.name) for column in PARTICIPANT_COLUMNS})
    return rows


def _visit_order(study_id: str, code: str) -> tuple:
    order = visit_order()
    position = order.index(code) if code in order else len(order)
    return (study_id, position, code)


def _visit_and_administration_rows() -> tuple[list[Row], list[Row]]:
    """visits.csv (one row per participant and visit: its items and date) and
    administrations.csv (one row per questionnaire: its date, mode and language)."""
    item_keys = {column.name for column in item_columns()}
    visits: dict[tuple[str, str], Row] = {}
    given = []
    for response in selectors.responses_for_export().iterator(chunk_size=_ITERATOR_CHUNK):
        key = (response.participant.study_id, response.visit)
        given.append(
            {
                "study_id": key[0],
                "visit": response.visit,
                "instrument": response.instrument,
                "administered_on": response.administered_on,
                "mode": response.mode,
                "language": response.language,
            }
        )
        row = visits.setdefault(
            key, {"study_id": key[0], "visit": key[1], "visit_date": response.administered_on}
        )
        row["visit_date"] = min(row["visit_date"], response.administered_on)
        for item_key, value in response.answers.items():
            if item_key in item_keys and value is not None:
                row[item_key] = value
    # A visit done is dated by the visit itself, even when its questionnaires are not.
    for visit in selectors.visits_done_for_export().iterator(chunk_size=_ITERATOR_CHUNK):
        key = (visit.participant.study_id, visit.code)
        row = visits.setdefault(key, {"study_id": key[0], "visit": key[1]})
        row["visit_date"] = visit.done_on

    names = [column.name for column in visit_columns()]
    visit_rows = [
        {name: visits[key].get(name) for name in names}
        for key in sorted(visits, key=lambda key: _visit_order(*key))
    ]
    instrument_order = list(instruments())
    given.sort(
        key=lambda row: (
            *_visit_order(row["study_id"], row["visit"]),
            instrument_order.index(row["instrument"])
            if row["instrument"] in instrument_order
            else len(instrument_order),
            row["instrument"],
        )
    )
    return visit_rows, given


def _adverse_event_rows() -> list[Row]:
    rows = [
        {
            "study_id": event.participant.study_id,
            "onset_date": event.onset_date,
            "term": event.term,
            "serious": event.serious,
            "severity": event.severity,
            "relatedness": event.relatedness,
            "outcome": event.outcome,
        }
        for event in selectors.adverse_events_for_export()
    ]
    names = [column.name for column in ADVERSE_EVENT_COLUMNS]
    # Ties on (study_id, onset, term) fall back to the other cells: a total order.
    rows.sort(key=lambda row: [format_cell(row[name]) for name in names])
    return rows


def collect(*, arms: Mapping[int, str] | None) -> dict[str, list[Row]]:
    """The files' rows as typed values, in the export's row order."""
    screening_rows = _screening_rows()
    participant_rows = _participant_rows(arms)
    visit_rows, given = _visit_and_administration_rows()
    return {
        SCREENING_FILE: screening_rows,
        PARTICIPANTS_FILE: participant_rows,
        VISITS_FILE: visit_rows,
        ADVERSE_EVENTS_FILE: _adverse_event_rows(),
        ADMINISTRATIONS_FILE: given,
    }


# --------------------------------------------------------------------------- files


def write_files(directory: Path | str, tables: Mapping[str, list[Row]]) -> list[Path]:
    """Write the CSV files (UTF-8, header row, contract column order)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, columns in file_columns().items():
        path = directory / name
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow([column.name for column in columns])
            for row in tables[name]:
                writer.writerow(
                    [
                        spreadsheet.neutralise_cell(format_cell(row.get(column.name)))
                        for column in columns
                    ]
                )
        paths.append(path)
    return paths


def export_files(
    directory: Path | str, *, user, unblinded: bool, formats: tuple[str, ...] = ("csv",)
) -> dict[str, list[Row]]:
    """Write the files and audit the export (who, OS user, blinded or not, formats).

    One transaction, so every file is read from the same state. Returns the typed
    rows written, so other formats can be made from the same read
    (``analysis.exports.frames``) without reading the arms a second time.
    """
    os_user = getpass.getuser()
    with transaction.atomic():
        arms = arms_for_export(
            user=user, unblinded=unblinded, purpose=f"export_trial_data by OS user {os_user}"
        )
        tables = collect(arms=arms)
        write_files(directory, tables)
        counts = {name: len(rows) for name, rows in tables.items()}
        audit_event(
            user=user,
            model="analysis.TrialDataExport",
            summary=(
                f"Trial data exported ({'unblinded' if unblinded else 'blinded'}; "
                f"{', '.join(formats)}) by OS user {os_user}"
            ),
            changes={
                "unblinded": unblinded,
                "os_user": os_user,
                "formats": list(formats),
                "rows": counts,
            },
        )
    return tables
