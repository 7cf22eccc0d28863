"""No lost update: version tokens, what changed since, and the refusal (trial.versions)."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core import signing
from django.core.exceptions import ValidationError

from trial.versions import (
    STALE,
    VERSION_MISSING,
    Change,
    StaleEdit,
    changes_since,
    check_unchanged,
    state_of,
    token_for,
)


class Row:
    """Stands in for a model instance: anything with a ``pk`` is stored as its pk."""

    def __init__(self, pk):
        self.pk = pk


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        (dt.date(2019, 7, 1), "2019-07-01"),
        (dt.datetime(2019, 7, 1, 8, 30, tzinfo=dt.UTC), "2019-07-01T08:30:00+00:00"),
        (dt.time(23, 5), "23:05:00"),
        (Decimal("160.50"), "160.50"),
        ({"b", "a"}, ["a", "b"]),
        (frozenset({3, 1, 2}), [1, 2, 3]),
        (("m3", "m1"), ["m1", "m3"]),
        (["z", "y"], ["y", "z"]),
        ([dt.date(2020, 1, 2), dt.date(2019, 1, 2)], ["2019-01-02", "2020-01-02"]),
        ({1: Decimal("2.5"), "k": dt.date(2019, 1, 1)}, {"1": "2.5", "k": "2019-01-01"}),
        (Row(42), 42),
        ("text", "text"),
        (7, 7),
        (None, None),
        (True, True),
    ],
)
def test_state_is_plain_json_data(value, plain):
    assert state_of(SimpleNamespace(field=value), ["field"]) == {"field": plain}


def test_state_holds_only_the_named_fields_in_their_order():
    row = SimpleNamespace(height_cm=Decimal("160.0"), weight_kg=Decimal("60.0"), note="x")
    state = state_of(row, ["weight_kg", "height_cm"])
    assert state == {"weight_kg": "60.0", "height_cm": "160.0"}
    assert list(state) == ["weight_kg", "height_cm"]


def test_token_is_the_same_for_the_same_state():
    # No timestamp: a page is byte for byte the same whenever it is loaded.
    assert token_for({"a": 1, "b": "x"}) == token_for({"a": 1, "b": "x"})
    assert token_for({"a": 1}) != token_for({"a": 2})


def test_token_is_signed_for_versions_only():
    token = token_for({"weight_kg": "60.0"})
    assert signing.Signer(salt="trial.versions").unsign_object(token) == {"weight_kg": "60.0"}
    with pytest.raises(signing.BadSignature):
        signing.Signer().unsign_object(token)
    with pytest.raises(signing.BadSignature):
        signing.Signer(salt="another.form").unsign_object(token)


def test_no_changes_since_an_unchanged_state():
    state = {"height_cm": "160.0", "weight_kg": "60.0"}
    assert changes_since(token_for(state), state) == []


def test_changes_name_each_changed_field_from_what_to_what_in_order():
    then = {"height_cm": "160.0", "weight_kg": "60.0", "comorbidity": False}
    now = {"height_cm": "161.0", "weight_kg": "60.0", "comorbidity": True}
    assert changes_since(token_for(then), now) == [
        Change("height_cm", "160.0", "161.0"),
        Change("comorbidity", False, True),
    ]


def test_a_field_the_token_does_not_hold_changed_from_nothing():
    assert changes_since(token_for({}), {"note": "new"}) == [Change("note", None, "new")]


def test_fields_the_form_does_not_edit_never_conflict():
    token = token_for({"height_cm": "160.0", "note": "old"})
    assert changes_since(token, {"height_cm": "160.0"}) == []


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a token",
        signing.Signer(salt="another.form").sign_object({"a": 1}),
        token_for({"a": 1})[:-1] + "x",
    ],
)
def test_a_missing_or_forged_token_is_refused(token):
    with pytest.raises(ValidationError) as error:
        changes_since(token, {"a": 1})
    assert error.value.code == "version_missing"
    assert error.value.messages == [str(VERSION_MISSING)]
    assert not isinstance(error.value, StaleEdit)


def test_no_token_means_no_form_and_no_check():
    assert check_unchanged(None, {"a": 1}) is None


def test_an_empty_token_is_a_form_out_of_date():
    with pytest.raises(ValidationError) as error:
        check_unchanged("", {"a": 1})
    assert error.value.code == "version_missing"


def test_unchanged_record_may_be_saved():
    assert check_unchanged(token_for({"a": 1, "b": 2}), {"a": 1, "b": 2}) is None


def test_changed_record_is_refused_with_the_changes():
    with pytest.raises(StaleEdit) as error:
        check_unchanged(token_for({"a": 1, "b": 2}), {"a": 1, "b": 3})
    assert error.value.changes == [Change("b", 2, 3)]
    assert error.value.code == "stale"
    assert error.value.messages == [str(STALE)]
    assert isinstance(error.value, ValidationError)
