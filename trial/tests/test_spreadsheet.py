"""trial.spreadsheet: CSV cells a spreadsheet never evaluates, and their exact inverse."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trial.spreadsheet import (
    FORMULA_TRIGGERS,
    is_plain_number,
    neutralise_cell,
    restore_cell,
    safe_cell,
    safe_row,
)

NEUTRALISED = [
    # Each trigger character, alone and leading a payload.
    ("=", "'="),
    ("+", "'+"),
    ("-", "'-"),
    ("@", "'@"),
    ("\t", "'\t"),
    ("\r", "'\r"),
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("+1 cmd", "'+1 cmd"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("-abc", "'-abc"),
    ("-2+3", "'-2+3"),
    ("+-5", "'+-5"),
    ("--5", "'--5"),
    ("-5 ", "'-5 "),
    ("-5\n", "'-5\n"),
    ("-1e5", "'-1e5"),
    ("-inf", "'-inf"),
    ("-1,5", "'-1,5"),
    ("-", "'-"),
    ("-.", "'-."),
    ("\tindented", "'\tindented"),
    ("\r\nline", "'\r\nline"),
    # A leading quote is escaped too, so the inverse is exact.
    ("'", "''"),
    ("'quoted", "''quoted"),
    ("''", "'''"),
    ("'=1", "''=1"),
    # Unicode: a trigger before non-ASCII text; digits of other scripts are not plain numbers.
    ("=café", "'=café"),
    ("-٣", "'-٣"),
    ("+日本", "'+日本"),
]

UNCHANGED = [
    "",
    " ",
    "   ",
    "\n",
    " =1",  # a leading space: spreadsheets take it as text
    "Nausea",
    "C+A",
    "a=b",
    "2024-03-01",
    "6:30",
    "{}",
    '{"reason": "=x"}',
    # Plain numbers, signed or not.
    "0",
    "5",
    "-5",
    "+5",
    "+1.5",
    "-0.25",
    "-.5",
    "+.5",
    "-5.",
    ".5",
    "160.0",
    "-000123",
    # Unicode that is not a trigger (the full-width equals sign and the minus sign).
    "头痛",
    "＝SUM(A1)",
    "−5",
]


@pytest.mark.parametrize(("text", "expected"), NEUTRALISED)
def test_a_formula_trigger_or_leading_quote_gets_one_quote(text, expected):
    assert neutralise_cell(text) == expected
    assert restore_cell(expected) == text


@pytest.mark.parametrize("text", UNCHANGED)
def test_other_text_and_plain_numbers_are_left_alone(text):
    assert neutralise_cell(text) == text
    assert restore_cell(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("'", ""),
        ("''", "'"),
        ("'''", "''"),
        ("'=1", "=1"),
        ("a'", "a'"),
        (" 'a", " 'a"),
        ("-5", "-5"),
    ],
)
def test_restore_removes_exactly_one_leading_quote(text, expected):
    assert restore_cell(text) == expected


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("0", True),
        ("-5", True),
        ("+1.5", True),
        ("-0.25", True),
        (".5", True),
        ("5.", True),
        ("", False),
        ("-", False),
        ("+", False),
        (".", False),
        ("-.", False),
        ("1e5", False),
        ("1_000", False),
        ("1,5", False),
        (" 5", False),
        ("5\n", False),
        ("٣", False),
        ("nan", False),
    ],
)
def test_plain_number(text, plain):
    assert is_plain_number(text) is plain


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, 0),
        (-5, -5),
        (True, True),
        ("=1", "'=1"),
        (-0.25, "-0.25"),
        (float("-inf"), "'-inf"),
        (-1e-05, "'-1e-05"),
    ],
)
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_safe_row_neutralises_every_text_cell():
    assert safe_row([1, "=A1", None, "ok", "@x"]) == [1, "'=A1", None, "ok", "'@x"]


@given(st.text())
def test_restore_inverts_neutralise(text):
    assert restore_cell(neutralise_cell(text)) == text


@given(st.text())
def test_a_neutralised_cell_never_starts_a_formula(text):
    cell = neutralise_cell(text)
    assert not cell.startswith(FORMULA_TRIGGERS) or is_plain_number(cell)
