"""Pure layer of the interchange import: read the CSV files, parse and validate every row.

No ORM and no settings: what validation needs beyond the files (today's date, the
protocol's age limits, the instruments as configured, the files' columns and the
packs of the randomization lists already in the database) comes in a
:class:`ValidationContext`, which ``interchange_import.read_files`` builds.

- :func:`parse_cell` turns one cell into its typed value (``date``, ``int``,
  ``bool``, ``Decimal``, ``str``, ``None``) or raises :class:`CellError`;
  :func:`format_cell` is its inverse, the one canonical text of a value, which the
  export writes, so the round trip is this module's promise.
- :func:`read_files` parses every file and checks every row against the others,
  returning the parsed rows with every :class:`Problem` found (file, row, column).
- The domain rules are asked of the pure modules the pages use: eligibility and
  the age rule of ``trial.eligibility`` (:func:`age_excluded`,
  :func:`screening_eligibility`), scores of ``questionnaires.scoring`` through
  the instruments' declarations.

The messages are constants: the tests assert them, and they name what to fix.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from questionnaires.definitions import Instrument, Item
from questionnaires.schedule import DEFAULT_SCHEDULE
from questionnaires.scoring import ScoringError
from trial import spreadsheet
from trial.eligibility import ANSWERED_CRITERIA, EXCLUSION_CRITERIA, Eligibility, assess_eligibility
from trial.models import ParticipantStatus

from .interchange_columns import (
    ADMINISTRATIONS_FILE,
    ADVERSE_EVENTS_FILE,
    BASELINE_COLUMNS,
    OPTIONAL_FILES,
    PARTICIPANTS_FILE,
    SCREENING_FILE,
    VISITS_FILE,
    Column,
)

# Messages (asserted by the tests).
NOT_A_DATE = "{text!r} is not a date (YYYY-MM-DD)"
NOT_A_BOOLEAN = "{text!r} is not 0 or 1"
NOT_A_WHOLE_NUMBER = "{text!r} is not a whole number"
NOT_A_DECIMAL = "{text!r} is not a number with at most one decimal"
NOT_HOURS = "{text!r} is not hours as a number (6.5) or H:MM (6:30)"
NOT_A_CHOICE = "{text!r} is not one of {choices}"
OUT_OF_RANGE = "{value} is outside {low} to {high}"
TOO_LONG = "is longer than {n} characters"
REQUIRED = "is required"
IN_FUTURE = "{value} is in the future"
UNKNOWN_COLUMN = "unknown column"
MISSING_COLUMN = "missing column"
DUPLICATE_COLUMN = "the column appears more than once"
WRONG_CELL_COUNT = "has {n} cells, the header has {m}"
NOT_UTF8 = "is not UTF-8 text"
NOT_CSV = "cannot be read as CSV ({error})"
CONTAINS_NUL = "contains a NUL character (\\x00), which cannot be stored; remove it"
MISSING_FILE = "file not found"
EMPTY_FILE = "the file is empty (a header row is required)"
PACK_WITHOUT_ARM = "an imported allocation needs its arm"
ARM_WITHOUT_PACK = "an allocation needs its pack code"
RANDOMIZATION_DATE_REQUIRED = "a randomized participant needs the randomization date"
RANDOMIZATION_DATE_WITHOUT_PACK = "randomization_date is given but no pack_code or arm"
RANDOMIZED_WITHOUT_BASELINE = "a randomized participant needs the baseline columns"
BASELINE_INCOMPLETE = "is empty, but other baseline columns are given ({given})"
NO_ITEMS = "the row has no item values"
NOT_IN_VISITS = "{visits} has no answers to {instrument} at {visit} for {study_id}"
DUPLICATE_ADMINISTRATION = "duplicate row for {instrument} at {visit} of {study_id} (also row {n})"
FOLLOW_UP_WITHOUT_PROCEDURE = (
    "a follow-up visit without questionnaires needs the participant's procedure_date"
)
COMPLETED_WITHOUT_LAST_VISIT = "status completed needs the {visit} visit in visits.csv"
PACK_OF_A_LIST = (
    "{pack} is also a pack of the randomization list {list} in this database; an imported "
    "pack code must not be one that could still be dispensed"
)
DUPLICATE_SCREENING_ID = "duplicate screening_id {value} (also row {n})"
DUPLICATE_STUDY_ID = "duplicate study_id {value} (also row {n})"
DUPLICATE_PACK_CODE = "duplicate pack_code {value} (also row {n})"
DUPLICATE_VISIT = "duplicate visit {code} for {study_id} (also row {n})"
AGE_RULE_DISAGREES = "is {flag} but age {age} is {verdict} {low} to {high}"
EXCLUDED_BUT_CONSENTED = "a screening with an exclusion criterion ({failed}) cannot be consented"
CONSENTED_WITHOUT_STUDY_ID = "consented is 1 but it is empty"
STUDY_ID_WITHOUT_CONSENT = "is given but consented is 0 (leave it empty)"
CONSENTED_WITHOUT_PARTICIPANT = "{study_id} is consented but has no row in {participants}"
NOT_A_CONSENTED_SCREENING = "{study_id} is not a consented screening in {screenings}"
NOT_A_PARTICIPANT = "{study_id} is not in {participants}"
BEFORE_SCREENING = (
    "{value}: {what} cannot be before the screening date {screening_date} ({screenings} row {n})"
)
AGE_DIFFERS = "{age} differs from the screening age {screening_age} ({screenings} row {n})"
BEFORE_CONSENT = "{value} is before the consent date {consent}"
BEFORE_PROCEDURE = "{value}: a follow-up visit cannot be before the procedure date {procedure}"


# --------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    file: str  # "" for the database itself
    row: int | None  # data row counted from 1 after the header
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file or "database"
        if self.row is not None:
            where += f" row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class _Report:
    """Where one file's problems go, so each check names only row, column and message."""

    file: str
    problems: list[Problem]

    def add(self, row: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(self.file, row, column, message))

    def if_future(self, row: int, values: Mapping[str, Any], column: str, today: date) -> None:
        value = values.get(column)
        if value is not None and value > today:
            self.add(row, column, IN_FUTURE.format(value=value.isoformat()))

    def if_before_consent(
        self, row: int, values: Mapping[str, Any], column: str, consent: date | None
    ) -> None:
        value = values.get(column)
        if value is not None and consent is not None and value < consent:
            message = BEFORE_CONSENT.format(value=value.isoformat(), consent=consent.isoformat())
            self.add(row, column, message)


class CellError(ValueError):
    """One cell that cannot be read; the message says why (without file, row or column)."""


# --------------------------------------------------------------------------- cells


def _plain_number(text: str) -> str:
    # repr() of a float can be "1e-05"; the files never use exponent form.
    if "e" in text or "E" in text:
        return format(Decimal(text), "f")
    return text


def format_cell(value: Any) -> str:
    """The canonical text of one value: the same value always gives the same text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return _plain_number(repr(value))
    return str(value)


_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_UNSIGNED_RE = re.compile(r"[0-9]+")
_SIGNED_RE = re.compile(r"[+-]?[0-9]+")
_ONE_DECIMAL_RE = re.compile(r"[0-9]+(\.[0-9])?")
_HOURS_NUMBER_RE = re.compile(r"[0-9]+(\.[0-9]+)?")


def parse_date(text: str) -> date:
    """An ISO date written YYYY-MM-DD (``date.fromisoformat`` alone also takes 20240301)."""
    if not _DATE_RE.fullmatch(text):
        raise CellError(NOT_A_DATE.format(text=text))
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise CellError(NOT_A_DATE.format(text=text)) from error


def parse_item(item: Item, text: str) -> Any:
    """A cell as the scoring functions take it (they then check the range)."""
    if item.kind in ("clock", "text"):
        return text
    if item.kind == "hours":
        if ":" in text:
            return text
        if not _HOURS_NUMBER_RE.fullmatch(text):
            raise CellError(NOT_HOURS.format(text=text))
        return float(text) if "." in text else int(text)
    if not _SIGNED_RE.fullmatch(text):
        raise CellError(NOT_A_WHOLE_NUMBER.format(text=text))
    return int(text)


def _within_limits(column: Column, value: int | Decimal) -> int | Decimal:
    if column.low is None or column.high is None or column.low <= value <= column.high:
        return value
    raise CellError(OUT_OF_RANGE.format(value=format_cell(value), low=column.low, high=column.high))


def _parse_text(column: Column, text: str) -> str:
    return text


def _parse_date(column: Column, text: str) -> date:
    return parse_date(text)


def _parse_bool(column: Column, text: str) -> bool:
    if text not in ("0", "1"):
        raise CellError(NOT_A_BOOLEAN.format(text=text))
    return text == "1"


def _parse_int(column: Column, text: str) -> int | Decimal:
    if not _UNSIGNED_RE.fullmatch(text):
        raise CellError(NOT_A_WHOLE_NUMBER.format(text=text))
    return _within_limits(column, int(text))


def _parse_decimal(column: Column, text: str) -> int | Decimal:
    if not _ONE_DECIMAL_RE.fullmatch(text):
        raise CellError(NOT_A_DECIMAL.format(text=text))
    try:
        value = Decimal(text).quantize(Decimal("0.1"))
    except InvalidOperation as error:  # pragma: no cover - the pattern excludes it
        raise CellError(NOT_A_DECIMAL.format(text=text)) from error
    return _within_limits(column, value)


def _parse_choice(column: Column, text: str) -> str:
    if text not in column.choices:
        raise CellError(NOT_A_CHOICE.format(text=text, choices=", ".join(column.choices)))
    return text


def _parse_item_cell(column: Column, text: str) -> Any:
    assert column.item is not None  # noqa: S101 - item columns always carry their item
    return parse_item(column.item, text)


_PARSERS: dict[str, Callable[[Column, str], Any]] = {
    "id": _parse_text,
    "text": _parse_text,
    "date": _parse_date,
    "bool": _parse_bool,
    "int": _parse_int,
    "decimal": _parse_decimal,
    "choice": _parse_choice,
    "item": _parse_item_cell,
}


def parse_cell(column: Column, raw: str) -> Any:
    """One cell's value, None when empty; raises :class:`CellError` with the reason.

    Free text is kept exactly as written; every other cell is read without its
    surrounding spaces.
    """
    free_text = column.kind == "text" or (column.item is not None and column.item.kind == "text")
    text = raw if free_text else raw.strip()
    if text == "":
        if column.required:
            raise CellError(REQUIRED)
        return None
    if column.max_length is not None and len(text) > column.max_length:
        raise CellError(TOO_LONG.format(n=column.max_length))
    parser = _PARSERS.get(column.kind)
    if parser is None:  # pragma: no cover - the declarations use only these kinds
        raise AssertionError(column.kind)
    return parser(column, text)


# --------------------------------------------------------------------------- files


@dataclass
class ParsedFile:
    name: str
    header: tuple[str, ...] = ()
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    # Cells already reported as invalid (row number -> columns): read as None, but
    # they were given, so the cross-file checks must not also call them missing.
    invalid: dict[int, set[str]] = field(default_factory=dict)

    def given(self, number: int, row: Mapping[str, Any], column: str) -> bool:
        return row.get(column) is not None or column in self.invalid.get(number, ())


def _records(path: Path, report: _Report) -> list[list[str]] | None:
    """The file's CSV records, or None (reported) when it cannot be read."""
    if not path.is_file():
        if report.file not in OPTIONAL_FILES:
            report.add(None, None, MISSING_FILE)
        return None
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            records = list(csv.reader(handle))
    except UnicodeDecodeError:
        report.add(None, None, NOT_UTF8)
        return None
    except csv.Error as error:
        report.add(None, None, NOT_CSV.format(error=error))
        return None
    if not records:
        report.add(None, None, EMPTY_FILE)
        return None
    return records


def _header_is_valid(header: tuple[str, ...], columns: tuple[Column, ...], report: _Report) -> bool:
    """Every column known and once; every column but an item column present."""
    known = {column.name for column in columns}
    before = len(report.problems)
    seen: set[str] = set()
    for cell in header:
        if "\x00" in cell:
            report.add(None, cell.replace("\x00", "\\x00"), CONTAINS_NUL)
            continue
        if cell in seen:
            report.add(None, cell, DUPLICATE_COLUMN)
        seen.add(cell)
        if cell not in known:
            report.add(None, cell, UNKNOWN_COLUMN)
    for column in columns:
        if column.kind != "item" and column.name not in seen:
            report.add(None, column.name, MISSING_COLUMN)
    return len(report.problems) == before


def _parse_record(
    parsed: ParsedFile,
    number: int,
    record: list[str],
    by_name: Mapping[str, Column],
    report: _Report,
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column_name, raw in zip(parsed.header, record, strict=True):
        try:
            if "\x00" in raw:
                raise CellError(CONTAINS_NUL)
            values[column_name] = parse_cell(by_name[column_name], spreadsheet.restore_cell(raw))
        except CellError as error:
            report.add(number, column_name, str(error))
            values[column_name] = None
            parsed.invalid.setdefault(number, set()).add(column_name)
    return values


def read_file(
    directory: Path, name: str, columns: tuple[Column, ...], problems: list[Problem]
) -> ParsedFile:
    """One file's rows as typed values; its problems are appended to ``problems``.

    A file whose header is wrong gives no rows: its cells could not be placed.
    """
    parsed = ParsedFile(name)
    report = _Report(name, problems)
    records = _records(directory / name, report)
    if records is None:
        return parsed
    parsed.header = tuple(cell.strip() for cell in records[0])
    if not _header_is_valid(parsed.header, columns, report):
        return parsed
    by_name = {column.name: column for column in columns}
    for number, record in enumerate(records[1:], start=1):
        if not record:
            continue  # a blank line
        if len(record) != len(parsed.header):
            report.add(number, None, WRONG_CELL_COUNT.format(n=len(record), m=len(parsed.header)))
            continue
        parsed.rows.append((number, _parse_record(parsed, number, record, by_name, report)))
    return parsed


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class ValidationContext:
    """What validation needs beyond the files themselves.

    ``columns`` are the files' columns (``interchange_columns.file_columns()``),
    ``instruments`` the questionnaires as configured, ``age_min``/``age_max`` the
    protocol's age limits, and ``list_packs`` the pack codes of the randomization
    lists already in the database, with each list's name.
    """

    columns: Mapping[str, tuple[Column, ...]]
    instruments: Mapping[str, Instrument]
    today: date
    age_min: int
    age_max: int
    list_packs: Mapping[str, str] = field(default_factory=dict)
    # The visits of the configured schedule after baseline, and the last one (a
    # participant completes the study with it); the protocol's by default.
    follow_up_visits: tuple[str, ...] = tuple(v.code for v in DEFAULT_SCHEDULE.follow_up)
    completion_visit: str = DEFAULT_SCHEDULE.completion.code


@dataclass
class Validated:
    """The parsed files and every problem found; importable only when ``problems`` is empty."""

    files: dict[str, ParsedFile]
    problems: list[Problem]

    @property
    def screenings(self) -> list[tuple[int, dict[str, Any]]]:
        return self.files[SCREENING_FILE].rows

    @property
    def participants(self) -> list[tuple[int, dict[str, Any]]]:
        return self.files[PARTICIPANTS_FILE].rows

    @property
    def visits(self) -> list[tuple[int, dict[str, Any]]]:
        return self.files[VISITS_FILE].rows

    @property
    def adverse_events(self) -> list[tuple[int, dict[str, Any]]]:
        return self.files[ADVERSE_EVENTS_FILE].rows

    @property
    def administrations(self) -> list[tuple[int, dict[str, Any]]]:
        return self.files[ADMINISTRATIONS_FILE].rows


# Rows of one file by study id: (row number, row).
_ByStudy = dict[str, tuple[int, dict[str, Any]]]


def instrument_answers(instrument: Instrument, row: Mapping[str, Any]) -> dict[str, Any]:
    """The row's answers to one instrument: the items given (an empty dict when none)."""
    return {key: row[key] for key in instrument.item_keys if row.get(key) is not None}


def read_files(directory: Path | str, context: ValidationContext) -> Validated:
    """Parse and validate every row of every file; collect every problem."""
    directory = Path(directory)
    problems: list[Problem] = []
    files = {
        name: read_file(directory, name, columns, problems)
        for name, columns in context.columns.items()
    }
    _check_screenings(files[SCREENING_FILE], problems, context)
    consented = {
        row["study_id"]: (number, row)
        for number, row in files[SCREENING_FILE].rows
        if row.get("study_id") and row.get("consented")
    }
    participants = _check_participants(files[PARTICIPANTS_FILE], consented, problems, context)
    screenings = _Report(SCREENING_FILE, problems)
    for study_id, (number, _row) in consented.items():
        if study_id not in participants:
            message = CONSENTED_WITHOUT_PARTICIPANT.format(
                study_id=study_id, participants=PARTICIPANTS_FILE
            )
            screenings.add(number, "study_id", message)
    visit_codes = _check_visits(files[VISITS_FILE], participants, problems, context)
    for study_id, (number, row) in participants.items():
        last = context.completion_visit
        if row.get("status") == ParticipantStatus.COMPLETED and (study_id, last) not in visit_codes:
            message = COMPLETED_WITHOUT_LAST_VISIT.format(visit=last)
            problems.append(Problem(PARTICIPANTS_FILE, number, "status", message))
    _check_adverse_events(files[ADVERSE_EVENTS_FILE], participants, problems, context)
    _check_administrations(
        files[ADMINISTRATIONS_FILE], files[VISITS_FILE], participants, problems, context
    )
    return Validated(files=files, problems=problems)


# --------------------------------------------------------------------------- screening.csv

# The files give the age in completed years, not the date of birth; trial.eligibility
# takes a date of birth. 1 January of a reference year is a birthday without a leap-day
# edge, and every age the files allow (0 to 120) fits in the calendar before it.
_AGE_REFERENCE_DAY = date(2000, 1, 1)


def _date_of_birth_for(age: int) -> date:
    return _AGE_REFERENCE_DAY.replace(year=_AGE_REFERENCE_DAY.year - age)


def age_excluded(age: int, *, age_min: int, age_max: int) -> bool:
    """Whether the age rule of ``trial.eligibility`` excludes ``age`` completed years.

    Asked with every answered criterion passing, so the verdict is the age rule's alone.
    """
    outcome = assess_eligibility(
        date_of_birth=_date_of_birth_for(age),
        screening_date=_AGE_REFERENCE_DAY,
        female=True,
        confirmed_diagnosis=True,
        answers=dict.fromkeys(ANSWERED_CRITERIA, False),
        age_min=age_min,
        age_max=age_max,
    )
    return "excl_age" in outcome.failed


def screening_eligibility(row: Mapping[str, Any], *, age_min: int, age_max: int) -> Eligibility:
    """``trial.eligibility``'s verdict on a valid screening row.

    The inclusion criteria are taken as met (the files hold only women with a
    confirmed diagnosis); age is judged from ``age``, which validation has already
    required ``excl_age`` to agree with.
    """
    return assess_eligibility(
        date_of_birth=_date_of_birth_for(row["age"]),
        screening_date=_AGE_REFERENCE_DAY,
        female=True,
        confirmed_diagnosis=True,
        answers={key: row[key] for key in ANSWERED_CRITERIA},
        age_min=age_min,
        age_max=age_max,
    )


def _check_age_rule(
    report: _Report, number: int, row: Mapping[str, Any], context: ValidationContext
) -> None:
    age, flag = row.get("age"), row.get("excl_age")
    if age is None or flag is None:
        return
    outside = age_excluded(age, age_min=context.age_min, age_max=context.age_max)
    if outside != flag:
        message = AGE_RULE_DISAGREES.format(
            flag=format_cell(flag),
            age=age,
            verdict="outside" if outside else "within",
            low=context.age_min,
            high=context.age_max,
        )
        report.add(number, "excl_age", message)


def _check_consent(report: _Report, number: int, row: Mapping[str, Any]) -> None:
    """Only an eligible screening consents, and only a consented one has a study id."""
    failed = [key for key in EXCLUSION_CRITERIA if row.get(key)]
    study_id = row.get("study_id")
    if row.get("consented"):
        if failed:
            report.add(number, "consented", EXCLUDED_BUT_CONSENTED.format(failed=", ".join(failed)))
        if study_id is None:
            report.add(number, "study_id", CONSENTED_WITHOUT_STUDY_ID)
    elif study_id is not None and row.get("consented") is not None:
        report.add(number, "study_id", STUDY_ID_WITHOUT_CONSENT)


def _check_unique(
    report: _Report, number: int, column: str, value: Any, seen: dict[Any, int], message: str
) -> None:
    """Report a value seen in an earlier row (naming that row); remember the first."""
    if value is None:
        return
    if value in seen:
        report.add(number, column, message.format(value=value, n=seen[value]))
    seen.setdefault(value, number)


def _check_screenings(
    parsed: ParsedFile, problems: list[Problem], context: ValidationContext
) -> None:
    report = _Report(SCREENING_FILE, problems)
    seen_ids: dict[str, int] = {}
    seen_study: dict[str, int] = {}
    for number, row in parsed.rows:
        screening_id = row.get("screening_id")
        _check_unique(
            report, number, "screening_id", screening_id, seen_ids, DUPLICATE_SCREENING_ID
        )
        report.if_future(number, row, "screening_date", context.today)
        _check_age_rule(report, number, row, context)
        _check_consent(report, number, row)
        study_id = row.get("study_id")
        _check_unique(report, number, "study_id", study_id, seen_study, DUPLICATE_STUDY_ID)


# --------------------------------------------------------------------------- participants.csv


def _check_against_screening(
    report: _Report, number: int, row: Mapping[str, Any], screening: tuple[int, dict[str, Any]]
) -> None:
    """Consent and procedure on or after the screening date; the same age."""
    s_number, s_row = screening
    s_date = s_row.get("screening_date")
    for column, what in (("consent_date", "consent"), ("procedure_date", "the procedure")):
        value = row.get(column)
        if value is not None and s_date is not None and value < s_date:
            message = BEFORE_SCREENING.format(
                value=value.isoformat(),
                what=what,
                screening_date=s_date.isoformat(),
                screenings=SCREENING_FILE,
                n=s_number,
            )
            report.add(number, column, message)
    if row.get("age") is not None and s_row.get("age") not in (None, row["age"]):
        message = AGE_DIFFERS.format(
            age=row["age"], screening_age=s_row["age"], screenings=SCREENING_FILE, n=s_number
        )
        report.add(number, "age", message)


def _baseline_given(
    report: _Report, parsed: ParsedFile, number: int, row: Mapping[str, Any]
) -> list[str]:
    """The baseline columns given; all eleven or none, else each empty one is reported."""
    given = [column for column in BASELINE_COLUMNS if parsed.given(number, row, column)]
    if given and len(given) < len(BASELINE_COLUMNS):
        message = BASELINE_INCOMPLETE.format(given=", ".join(given))
        for column in BASELINE_COLUMNS:
            if not parsed.given(number, row, column):
                report.add(number, column, message)
    return given


def _check_allocation(
    report: _Report, parsed: ParsedFile, number: int, row: Mapping[str, Any], baseline: list[str]
) -> None:
    """Arm, pack code and randomization date together or not at all, with a baseline."""
    arm = parsed.given(number, row, "arm")
    pack = row.get("pack_code")
    randomized_on = parsed.given(number, row, "randomization_date")
    if pack is not None and not arm:
        report.add(number, "arm", PACK_WITHOUT_ARM)
    if arm and pack is None:
        report.add(number, "pack_code", ARM_WITHOUT_PACK)
    if (arm or pack) and not randomized_on:
        report.add(number, "randomization_date", RANDOMIZATION_DATE_REQUIRED)
    if not (arm or pack) and randomized_on:
        report.add(number, "randomization_date", RANDOMIZATION_DATE_WITHOUT_PACK)
    if (arm or pack) and not baseline:
        report.add(number, "procedure_date", RANDOMIZED_WITHOUT_BASELINE)


def _check_pack_code(
    report: _Report,
    number: int,
    pack: str | None,
    seen: dict[str, int],
    list_packs: Mapping[str, str],
) -> None:
    """Each pack code once, and none that a sealed list here could still dispense."""
    if pack is None:
        return
    _check_unique(report, number, "pack_code", pack, seen, DUPLICATE_PACK_CODE)
    if pack in list_packs:
        report.add(number, "pack_code", PACK_OF_A_LIST.format(pack=pack, list=list_packs[pack]))


def _check_participant(
    report: _Report,
    parsed: ParsedFile,
    number: int,
    row: dict[str, Any],
    screening: tuple[int, dict[str, Any]] | None,
    context: ValidationContext,
) -> None:
    if screening is None:
        message = NOT_A_CONSENTED_SCREENING.format(
            study_id=row["study_id"], screenings=SCREENING_FILE
        )
        report.add(number, "study_id", message)
    for column in ("consent_date", "randomization_date", "procedure_date", "status_date"):
        report.if_future(number, row, column, context.today)
    if screening is not None:
        _check_against_screening(report, number, row, screening)
    for column in ("randomization_date", "status_date"):
        report.if_before_consent(number, row, column, row.get("consent_date"))
    baseline = _baseline_given(report, parsed, number, row)
    _check_allocation(report, parsed, number, row, baseline)


def _check_participants(
    parsed: ParsedFile, consented: _ByStudy, problems: list[Problem], context: ValidationContext
) -> _ByStudy:
    """Check every participant row; returns the rows by study id (the first of each)."""
    report = _Report(PARTICIPANTS_FILE, problems)
    participants: _ByStudy = {}
    pack_codes: dict[str, int] = {}
    for number, row in parsed.rows:
        study_id = row.get("study_id")
        if study_id is None:
            continue
        if study_id in participants:
            n = participants[study_id][0]
            report.add(number, "study_id", DUPLICATE_STUDY_ID.format(value=study_id, n=n))
            continue
        participants[study_id] = (number, row)
        _check_participant(report, parsed, number, row, consented.get(study_id), context)
        _check_pack_code(report, number, row.get("pack_code"), pack_codes, context.list_packs)
    return participants


# --------------------------------------------------------------------------- visits.csv


def _check_visit_dates(
    report: _Report,
    number: int,
    row: Mapping[str, Any],
    participant: Mapping[str, Any],
    today: date,
    follow_up_visits: tuple[str, ...],
) -> None:
    """Not in the future, not before consent; a follow-up visit not before the procedure."""
    report.if_future(number, row, "visit_date", today)
    report.if_before_consent(number, row, "visit_date", participant.get("consent_date"))
    visit_date, procedure = row.get("visit_date"), participant.get("procedure_date")
    if (
        row.get("visit") in follow_up_visits
        and visit_date is not None
        and procedure is not None
        and visit_date < procedure
    ):
        message = BEFORE_PROCEDURE.format(
            value=visit_date.isoformat(), procedure=procedure.isoformat()
        )
        report.add(number, "visit_date", message)


def _score_answers(
    report: _Report,
    parsed: ParsedFile,
    number: int,
    row: Mapping[str, Any],
    instruments: Mapping[str, Instrument],
    item_keys: set[str],
) -> bool:
    """Score each questionnaire the row answers; True when the row gives any item
    (an invalid item cell counts: it was given)."""
    any_item = any(column in item_keys for column in parsed.invalid.get(number, ()))
    for instrument in instruments.values():
        answers = instrument_answers(instrument, row)
        if not answers:
            continue
        any_item = True
        try:
            instrument.score(answers)
        except ScoringError as error:
            message = str(error).removeprefix(f"{error.key}: ")
            column = error.key if error.key in parsed.header else None
            report.add(number, column, message)
    return any_item


def _check_visits(
    parsed: ParsedFile, participants: _ByStudy, problems: list[Problem], context: ValidationContext
) -> set[tuple[str, str]]:
    """Check every visit row; returns the (study id, visit) pairs in the file."""
    report = _Report(VISITS_FILE, problems)
    seen: dict[tuple[str, str], int] = {}
    instruments = context.instruments
    item_keys = {key for instrument in instruments.values() for key in instrument.item_keys}
    for number, row in parsed.rows:
        study_id, code = row.get("study_id"), row.get("visit")
        participant = participants.get(study_id) if study_id else None
        if study_id is not None and participant is None:
            message = NOT_A_PARTICIPANT.format(study_id=study_id, participants=PARTICIPANTS_FILE)
            report.add(number, "study_id", message)
        if study_id is not None and code is not None:
            if (study_id, code) in seen:
                message = DUPLICATE_VISIT.format(
                    code=code, study_id=study_id, n=seen[study_id, code]
                )
                report.add(number, "visit", message)
            seen.setdefault((study_id, code), number)
        p_row = participant[1] if participant else {}
        _check_visit_dates(report, number, row, p_row, context.today, context.follow_up_visits)
        any_item = _score_answers(report, parsed, number, row, instruments, item_keys)
        if not any_item and code is not None:
            if code not in context.follow_up_visits:
                report.add(number, None, NO_ITEMS)
            elif participant is not None and p_row.get("procedure_date") is None:
                report.add(number, "visit", FOLLOW_UP_WITHOUT_PROCEDURE)
    return set(seen)


# --------------------------------------------------------------------------- the others


def _check_administrations(
    parsed: ParsedFile,
    visits: ParsedFile,
    participants: _ByStudy,
    problems: list[Problem],
    context: ValidationContext,
) -> None:
    """Each row names a questionnaire answered in visits.csv, once, on a possible date."""
    report = _Report(ADMINISTRATIONS_FILE, problems)
    answered = {
        (row.get("study_id"), row.get("visit"), key)
        for _number, row in visits.rows
        for key, instrument in context.instruments.items()
        if instrument_answers(instrument, row)
    }
    seen: dict[tuple[str, str, str], int] = {}
    for number, row in parsed.rows:
        key = (row.get("study_id"), row.get("visit"), row.get("instrument"))
        if None in key:
            continue  # a required cell, already reported
        study_id, visit, instrument = key
        if key in seen:
            message = DUPLICATE_ADMINISTRATION.format(
                instrument=instrument, visit=visit, study_id=study_id, n=seen[key]
            )
            report.add(number, "instrument", message)
        seen.setdefault(key, number)
        if key not in answered:
            message = NOT_IN_VISITS.format(
                visits=VISITS_FILE, instrument=instrument, visit=visit, study_id=study_id
            )
            report.add(number, "instrument", message)
        report.if_future(number, row, "administered_on", context.today)
        consent = participants.get(study_id, (0, {}))[1].get("consent_date")
        report.if_before_consent(number, row, "administered_on", consent)


def _check_adverse_events(
    parsed: ParsedFile, participants: _ByStudy, problems: list[Problem], context: ValidationContext
) -> None:
    report = _Report(ADVERSE_EVENTS_FILE, problems)
    for number, row in parsed.rows:
        study_id = row.get("study_id")
        participant = participants.get(study_id) if study_id else None
        if study_id is not None and participant is None:
            message = NOT_A_PARTICIPANT.format(study_id=study_id, participants=PARTICIPANTS_FILE)
            report.add(number, "study_id", message)
        report.if_future(number, row, "onset_date", context.today)
        consent = participant[1].get("consent_date") if participant else None
        report.if_before_consent(number, row, "onset_date", consent)
