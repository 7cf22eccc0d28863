"""The interchange parser on its own: cells, headers, rows and cross-file rules, no database.

``analysis/tests/test_interchange.py`` drives the same rules through the import
command; here each validator is called directly with a ``ValidationContext``, so
the edge cases are one line each.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from analysis.interchange_columns import (
    ADMINISTRATIONS_FILE,
    PARTICIPANT_COLUMNS,
    SCREENING_COLUMNS,
    Column,
    file_columns,
)
from analysis.interchange_parse import (
    CONTAINS_NUL,
    DUPLICATE_COLUMN,
    EMPTY_FILE,
    MISSING_COLUMN,
    MISSING_FILE,
    NOT_UTF8,
    UNKNOWN_COLUMN,
    CellError,
    Problem,
    ValidationContext,
    age_excluded,
    format_cell,
    parse_cell,
    read_file,
    read_files,
    screening_eligibility,
)
from questionnaires.definitions import instruments

TODAY = date(2024, 6, 1)


def _column(name: str, columns: tuple[Column, ...] = PARTICIPANT_COLUMNS) -> Column:
    return next(column for column in columns if column.name == name)


def _item_column(key: str) -> Column:
    return next(column for column in file_columns()["visits.csv"] if column.name == key)


def _refused(column: Column, raw: str) -> str:
    with pytest.raises(CellError) as raised:
        parse_cell(column, raw)
    return str(raised.value)


# --------------------------------------------------------------------------- cells


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("2024-03-01", date(2024, 3, 1)),
        (" 2024-03-01 ", date(2024, 3, 1)),  # surrounding spaces removed
        ("2024-02-29", date(2024, 2, 29)),  # a leap day
        ("", None),  # optional: empty is missing
    ],
)
def test_date_cells(raw, value):
    assert parse_cell(_column("procedure_date"), raw) == value


@pytest.mark.parametrize("raw", ["20240301", "2024-3-1", "2023-02-29", "2024-13-01", "01/03/2024"])
def test_a_date_is_written_yyyy_mm_dd(raw):
    assert _refused(_column("procedure_date"), raw) == f"{raw!r} is not a date (YYYY-MM-DD)"


@pytest.mark.parametrize(("raw", "value"), [("0", False), ("1", True), (" 1 ", True)])
def test_boolean_cells(raw, value):
    assert parse_cell(_column("comorbidity"), raw) is value


@pytest.mark.parametrize("raw", ["2", "yes", "true", "01", "-0"])
def test_a_boolean_is_0_or_1(raw):
    assert _refused(_column("comorbidity"), raw) == f"{raw!r} is not 0 or 1"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("-1", "'-1' is not a whole number"),  # unsigned: a sign is refused
        ("+3", "'+3' is not a whole number"),
        ("1.0", "'1.0' is not a whole number"),
        ("\uff16", "'\uff16' is not a whole number"),  # a full-width digit is not ASCII
        ("101", "101 is outside 0 to 100"),
    ],
)
def test_whole_number_cells_refused(raw, message):
    assert _refused(_column("preop_vas_mm"), raw) == message


@pytest.mark.parametrize(("raw", "value"), [("0", 0), ("100", 100), ("007", 7)])
def test_whole_number_cells_at_their_limits(raw, value):
    assert parse_cell(_column("preop_vas_mm"), raw) == value


@pytest.mark.parametrize(
    ("raw", "value"),
    [("160", Decimal("160.0")), ("160.0", Decimal("160.0")), ("120.0", Decimal("120.0"))],
)
def test_decimal_cells_keep_one_decimal(raw, value):
    parsed = parse_cell(_column("height_cm"), raw)
    assert parsed == value and format_cell(parsed) == str(value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("160.05", "'160.05' is not a number with at most one decimal"),  # refused, not rounded
        (".5", "'.5' is not a number with at most one decimal"),
        ("1e2", "'1e2' is not a number with at most one decimal"),
        ("119.9", "119.9 is outside 120 to 220"),
        ("220.1", "220.1 is outside 120 to 220"),
    ],
)
def test_decimal_cells_refused(raw, message):
    assert _refused(_column("height_cm"), raw) == message


def test_choices_name_every_choice():
    assert _refused(_column("arm"), "mlt") == "'mlt' is not one of MLT, PLACEBO"
    assert parse_cell(_column("arm"), " PLACEBO ") == "PLACEBO"


@pytest.mark.parametrize(
    ("column", "raw", "message"),
    [
        (_column("status", PARTICIPANT_COLUMNS), "  ", "is required"),
        (_column("screening_id", SCREENING_COLUMNS), "", "is required"),
        (_column("pack_code"), "P" * 21, "is longer than 20 characters"),
    ],
)
def test_required_and_length(column, raw, message):
    assert _refused(column, raw) == message


def test_free_text_is_kept_exactly_as_written():
    assert parse_cell(_column("status_reason"), "  Moved away \n") == "  Moved away \n"
    assert parse_cell(_item_column("psqi_5j_text"), " snoring ") == " snoring "


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        ("psqi_4", "6.5", 6.5),  # hours as a float when it has a decimal point
        ("psqi_4", "7", 7),  # an int otherwise
        ("psqi_4", "6:30", "6:30"),  # text with a colon
        ("psqi_1", "23:00", "23:00"),  # clock times as written
        ("phq9_9", "-1", -1),  # item cells take a sign; scoring checks the range
        ("phq9_9", " 3 ", 3),
    ],
)
def test_item_cells(key, raw, value):
    parsed = parse_cell(_item_column(key), raw)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(("key", "raw"), [("psqi_4", "6,5"), ("psqi_4", "-6"), ("phq9_9", "1.5")])
def test_item_cells_refused(key, raw):
    message = _refused(_item_column(key), raw)
    assert message in (
        f"{raw!r} is not hours as a number (6.5) or H:MM (6:30)",
        f"{raw!r} is not a whole number",
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "1"),
        (False, "0"),
        (date(2024, 3, 1), "2024-03-01"),
        (Decimal("160.0"), "160.0"),
        (6.5, "6.5"),
        (1e-05, "0.00001"),  # never in exponent form
        (7, "7"),
        ("6:30", "6:30"),
    ],
)
def test_format_cell_is_one_canonical_text(value, text):
    assert format_cell(value) == text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("procedure_date", date(2024, 2, 29)),
        ("height_cm", Decimal("160.5")),
        ("comorbidity", False),
        ("preop_vas_mm", 0),
        ("status_reason", "'=SUM(A1)"),
    ],
)
def test_format_then_parse_gives_the_value_back(name, value):
    assert parse_cell(_column(name), format_cell(value)) == value


def test_problems_name_file_row_and_column():
    assert str(Problem("visits.csv", 3, "phq9_9", "bad")) == "visits.csv row 3, column phq9_9: bad"
    assert str(Problem("visits.csv", None, "x", "bad")) == "visits.csv, column x: bad"
    assert str(Problem("", None, None, "not empty")) == "database: not empty"


# --------------------------------------------------------------------------- eligibility


@pytest.mark.parametrize(
    ("age", "excluded"),
    [(0, True), (17, True), (18, False), (44, False), (70, False), (71, True), (120, True)],
)
def test_age_rule_is_the_protocol_s(age, excluded):
    assert age_excluded(age, age_min=18, age_max=70) is excluded


@pytest.mark.parametrize(("age", "excluded"), [(20, True), (21, False), (65, False), (66, True)])
def test_age_rule_follows_the_limits_given(age, excluded):
    assert age_excluded(age, age_min=21, age_max=65) is excluded


def _screening_row(**changes) -> dict:
    row = {
        "age": 50,
        "excl_age": False,
        **dict.fromkeys(
            (
                "excl_pregnancy",
                "excl_psychiatric",
                "excl_severe_disease",
                "excl_medication",
                "excl_mlt_allergy",
                "excl_other_trial",
                "excl_unwilling",
            ),
            False,
        ),
    }
    row.update(changes)
    return row


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({}, ()),
        ({"age": 75, "excl_age": True}, ("excl_age",)),
        ({"excl_unwilling": True, "excl_pregnancy": True}, ("excl_pregnancy", "excl_unwilling")),
        (
            {"age": 16, "excl_age": True, "excl_medication": True},
            ("excl_age", "excl_medication"),
        ),
    ],
)
def test_screening_eligibility_lists_failures_in_protocol_order(changes, failed):
    outcome = screening_eligibility(_screening_row(**changes), age_min=18, age_max=70)
    assert outcome.failed == failed
    assert outcome.eligible is (not failed)
    assert outcome.age == _screening_row(**changes)["age"]


# --------------------------------------------------------------------------- files

SCREENING_HEADER = [column.name for column in SCREENING_COLUMNS]


def _write(path: Path, records: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(records)


def _read_screenings(tmp_path: Path) -> tuple[list, list[Problem]]:
    problems: list[Problem] = []
    parsed = read_file(tmp_path, "screening.csv", SCREENING_COLUMNS, problems)
    return parsed.rows, problems


def _messages(problems: list[Problem]) -> list[str]:
    return [str(problem) for problem in problems]


def test_a_file_with_a_bom_and_columns_in_any_order(tmp_path):
    header = list(reversed(SCREENING_HEADER))
    row = list(reversed(["S1", "2024-03-01", "50", *"00000000", "0", ""]))
    (tmp_path / "screening.csv").write_text(
        "\ufeff" + ",".join(header) + "\n" + ",".join(row) + "\n\n", encoding="utf-8"
    )
    rows, problems = _read_screenings(tmp_path)
    assert problems == []
    (number, values), *others = rows
    assert number == 1 and others == []  # the blank line at the end is no row
    assert values["screening_id"] == "S1" and values["age"] == 50
    assert values["screening_date"] == date(2024, 3, 1) and values["study_id"] is None
    assert values["consented"] is False


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ([*SCREENING_HEADER, "colour"], [f"screening.csv, column colour: {UNKNOWN_COLUMN}"]),
        (SCREENING_HEADER[:-1], [f"screening.csv, column study_id: {MISSING_COLUMN}"]),
        ([*SCREENING_HEADER, "age"], [f"screening.csv, column age: {DUPLICATE_COLUMN}"]),
        (
            [*SCREENING_HEADER, "a\x00"],
            [f"screening.csv, column a\\x00: {CONTAINS_NUL}"],
        ),
    ],
)
def test_header_problems_and_no_rows(tmp_path, header, expected):
    _write(tmp_path / "screening.csv", [header, ["x"] * len(header)])
    rows, problems = _read_screenings(tmp_path)
    assert _messages(problems) == expected
    assert rows == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, MISSING_FILE),
        (b"", EMPTY_FILE),
        (b"\xff\xfe not text", NOT_UTF8),
    ],
)
def test_files_that_cannot_be_read(tmp_path, content, message):
    if content is not None:
        (tmp_path / "screening.csv").write_bytes(content)
    _rows, problems = _read_screenings(tmp_path)
    assert _messages(problems) == [f"screening.csv: {message}"]


def test_administrations_file_is_optional(tmp_path):
    problems: list[Problem] = []
    read_file(tmp_path, ADMINISTRATIONS_FILE, file_columns()[ADMINISTRATIONS_FILE], problems)
    assert problems == []


def test_row_problems_name_row_and_column_and_do_not_cascade(tmp_path):
    good = ["S1", "2024-03-01", "50", *"00000000", "0", ""]
    _write(
        tmp_path / "screening.csv",
        [
            SCREENING_HEADER,
            good,
            ["S2", "2024-03-01"],
            ["S3", "2024-03-01", "old", *"00000000", "0", "x\x00"],
            ["'S4", "2024-03-01", "50", *"00000000", "0", ""],  # one leading ' removed
        ],
    )
    rows, problems = _read_screenings(tmp_path)
    assert _messages(problems) == [
        "screening.csv row 2: has 2 cells, the header has 13",
        "screening.csv row 3, column age: 'old' is not a whole number",
        f"screening.csv row 3, column study_id: {CONTAINS_NUL}",
    ]
    assert [number for number, _row in rows] == [1, 3, 4]
    assert rows[1][1]["age"] is None and rows[2][1]["screening_id"] == "S4"


# --------------------------------------------------------------------------- across files


def _context(**changes) -> ValidationContext:
    values = {
        "columns": file_columns(),
        "instruments": instruments(),
        "today": TODAY,
        "age_min": 18,
        "age_max": 70,
        "list_packs": {},
    }
    values.update(changes)
    return ValidationContext(**values)


def _files(directory: Path, screenings: list[list[str]], participants: list[list[str]]) -> Path:
    columns = file_columns()
    for name in ("screening.csv", "participants.csv", "visits.csv", "adverse_events.csv"):
        _write(directory / name, [[column.name for column in columns[name]]])
    _write(directory / "screening.csv", [SCREENING_HEADER, *screenings])
    _write(
        directory / "participants.csv",
        [[column.name for column in PARTICIPANT_COLUMNS], *participants],
    )
    return directory


def _participant(study_id: str, **cells: str) -> list[str]:
    row = dict.fromkeys((column.name for column in PARTICIPANT_COLUMNS), "")
    row.update(study_id=study_id, consent_date="2024-03-01", status="withdrawn")
    row.update(status_date="2024-03-02", status_reason="Moved away", **cells)
    return list(row.values())


@pytest.mark.parametrize(
    ("age", "excl_age", "expected"),
    [
        ("50", "0", []),
        ("75", "1", []),
        (
            "75",
            "0",
            ["screening.csv row 1, column excl_age: is 0 but age 75 is outside 18 to 70"],
        ),
        ("18", "1", ["screening.csv row 1, column excl_age: is 1 but age 18 is within 18 to 70"]),
    ],
)
def test_excl_age_must_agree_with_the_age(tmp_path, age, excl_age, expected):
    row = ["S1", "2024-03-01", age, excl_age, *"0000000", "0", ""]
    validated = read_files(_files(tmp_path, [row], []), _context())
    assert _messages(validated.problems) == expected


def test_age_limits_come_from_the_context(tmp_path):
    row = ["S1", "2024-03-01", "75", "0", *"0000000", "0", ""]
    validated = read_files(_files(tmp_path, [row], []), _context(age_max=80))
    assert validated.problems == []


def test_screening_cross_checks(tmp_path):
    screenings = [
        ["S1", "2024-03-01", "50", "0", "1", *"000000", "1", "MLT-001"],
        ["S1", "2024-07-01", "50", *"00000000", "1", ""],
        ["S3", "2024-03-01", "50", *"00000000", "0", "MLT-003"],
    ]
    validated = read_files(_files(tmp_path, screenings, [_participant("MLT-001")]), _context())
    assert _messages(validated.problems) == [
        "screening.csv row 1, column consented: a screening with an exclusion criterion "
        "(excl_pregnancy) cannot be consented",
        "screening.csv row 2, column screening_id: duplicate screening_id S1 (also row 1)",
        "screening.csv row 2, column screening_date: 2024-07-01 is in the future",
        "screening.csv row 2, column study_id: consented is 1 but it is empty",
        "screening.csv row 3, column study_id: is given but consented is 0 (leave it empty)",
    ]


def test_participant_cross_checks(tmp_path):
    screenings = [["S1", "2024-03-01", "50", *"00000000", "1", "MLT-001"]]
    participants = [
        _participant("MLT-001", arm="MLT", pack_code="007", consent_date="2024-02-01", age="51"),
        _participant("MLT-009"),
    ]
    context = _context(list_packs={"007": "Test list"})
    validated = read_files(_files(tmp_path, screenings, participants), context)
    assert _messages(validated.problems) == [
        "participants.csv row 1, column consent_date: 2024-02-01: consent cannot be before the "
        "screening date 2024-03-01 (screening.csv row 1)",
        "participants.csv row 1, column age: 51 differs from the screening age 50 "
        "(screening.csv row 1)",
        "participants.csv row 1, column randomization_date: a randomized participant needs the "
        "randomization date",
        "participants.csv row 1, column procedure_date: a randomized participant needs the "
        "baseline columns",
        "participants.csv row 1, column pack_code: 007 is also a pack of the randomization list "
        "Test list in this database; an imported pack code must not be one that could still be "
        "dispensed",
        "participants.csv row 2, column study_id: MLT-009 is not a consented screening in "
        "screening.csv",
    ]


def test_a_partial_baseline_names_each_empty_column(tmp_path):
    screenings = [["S1", "2024-03-01", "50", *"00000000", "1", "MLT-001"]]
    participants = [_participant("MLT-001", procedure_date="2024-03-05", height_cm="oops")]
    validated = read_files(_files(tmp_path, screenings, participants), _context())
    messages = _messages(validated.problems)
    # The invalid height was given: it is reported once, as itself, not also as missing.
    assert messages[0] == (
        "participants.csv row 1, column height_cm: 'oops' is not a number with at most one decimal"
    )
    given = "is empty, but other baseline columns are given (procedure_date, height_cm)"
    assert messages[1:] == [
        f"participants.csv row 1, column {column}: {given}"
        for column in (
            "weight_kg",
            "comorbidity",
            "surgical_site",
            "preop_vas_mm",
            "procedure_type",
            "chemo_regimen",
            "radiotherapy",
            "hormone_therapy",
            "targeted_therapy",
        )
    ]
