"""What counts as written text: visible characters, trimming, NUL refused (trial.text)."""

import pytest
from django.core.exceptions import ValidationError

from trial.text import (
    NUL_REFUSED,
    REASON_NOT_VISIBLE,
    has_visible_text,
    optional_text,
    refuse_nul,
    required_text,
    trimmed,
)

# One character of each Unicode major category: L, M, N, P and S are visible.
VISIBLE = [
    ("a", "Ll letter"),
    ("中", "Lo letter"),
    ("\u0301", "Mn combining acute accent"),
    ("7", "Nd digit"),
    ("\u2167", "Nl roman numeral eight"),
    (".", "Po full stop"),
    ("-", "Pd hyphen"),
    ("+", "Sm plus sign"),
    ("\u00a9", "So copyright sign"),
]
# Z (separators) and C (control, format, surrogate, private use, unassigned) are not.
INVISIBLE = [
    (" ", "Zs space"),
    ("\u00a0", "Zs no-break space"),
    ("\u3000", "Zs ideographic space"),
    ("\u2028", "Zl line separator"),
    ("\u2029", "Zp paragraph separator"),
    ("\t", "Cc tab"),
    ("\n", "Cc line feed"),
    ("\x07", "Cc bell"),
    ("\u200b", "Cf zero-width space"),
    ("\u200c", "Cf zero-width non-joiner"),
    ("\u200d", "Cf zero-width joiner"),
    ("\u200e", "Cf left-to-right mark"),
    ("\u200f", "Cf right-to-left mark"),
    ("\ufeff", "Cf byte order mark"),
    ("\ud800", "Cs lone surrogate"),
    ("\ue000", "Co private use"),
    ("\U000e0080", "Cn unassigned"),
]


def _messages(error: ValidationError) -> dict[str, list[str]]:
    return {field: [str(m) for m in messages] for field, messages in error.message_dict.items()}


@pytest.mark.parametrize(("char", "what"), VISIBLE)
def test_visible_characters_count(char, what):
    assert has_visible_text(char), what
    assert has_visible_text(f"  {char}\u200b"), what


@pytest.mark.parametrize(("char", "what"), INVISIBLE)
def test_invisible_characters_do_not_count(char, what):
    assert not has_visible_text(char), what
    assert not has_visible_text(char * 3 + " \u200b"), what


def test_empty_text_says_nothing():
    assert not has_visible_text("")
    assert trimmed("") == ""


@pytest.mark.parametrize(("char", "what"), INVISIBLE)
def test_trimmed_removes_invisible_characters_at_both_ends(char, what):
    assert trimmed(f"{char}{char}no pain{char}") == "no pain", what


def test_trimmed_keeps_inner_spacing_and_visible_ends():
    assert trimmed("a") == "a"
    assert trimmed("ab") == "ab"
    assert trimmed(" \u200b a  b \u200d\n") == "a  b"
    assert trimmed("x \u200b y") == "x \u200b y"
    assert trimmed(".  .") == ".  ."


def test_trimmed_of_only_invisible_characters_is_empty():
    assert trimmed(" \u200b\u200d\t ") == ""


def test_refuse_nul_returns_the_text_unchanged():
    assert refuse_nul(" as typed ") == " as typed "
    assert refuse_nul("", field="reason") == ""


def test_refuse_nul_without_a_field_is_a_plain_error():
    with pytest.raises(ValidationError) as error:
        refuse_nul("a\x00b")
    assert not hasattr(error.value, "error_dict")
    assert [str(m) for m in error.value.messages] == [str(NUL_REFUSED)]


def test_refuse_nul_on_a_field_names_the_field():
    with pytest.raises(ValidationError) as error:
        refuse_nul("\x00", field="reason")
    assert _messages(error.value) == {"reason": [str(NUL_REFUSED)]}


def test_required_text_is_trimmed():
    assert required_text("  patient moved abroad\u200b ", field="reason") == (
        "patient moved abroad"
    )


@pytest.mark.parametrize("value", [None, "", "   ", "\u200b\u200d", "\u3000\n"])
def test_required_text_refuses_nothing_visible_on_its_field(value):
    with pytest.raises(ValidationError) as error:
        required_text(value, field="reason")
    assert _messages(error.value) == {"reason": [str(REASON_NOT_VISIBLE)]}


def test_required_text_shows_the_services_own_message():
    with pytest.raises(ValidationError) as error:
        required_text(" ", field="decline_reason", message="Give the reason.")
    assert _messages(error.value) == {"decline_reason": ["Give the reason."]}


def test_required_text_refuses_nul_on_its_field():
    with pytest.raises(ValidationError) as error:
        required_text("moved\x00", field="reason")
    assert _messages(error.value) == {"reason": [str(NUL_REFUSED)]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("", ""),
        (" \u200b ", ""),
        (" diabetes ", "diabetes"),
        ("\u200ediabetes, asthma\u200f", "diabetes, asthma"),
    ],
)
def test_optional_text(value, expected):
    assert optional_text(value, field="comorbidity_list") == expected


def test_optional_text_refuses_nul_on_its_field():
    with pytest.raises(ValidationError) as error:
        optional_text("\x00", field="comorbidity_list")
    assert _messages(error.value) == {"comorbidity_list": [str(NUL_REFUSED)]}
