"""Tests for the pure visit-window layer (followup/windows.py). No Django needed."""

from __future__ import annotations

import calendar
import copy
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from itertools import product
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.windows import (
    ALLOWED_TRANSITIONS,
    DEFAULT_SCHEDULE,
    INSTRUMENT_KEYS,
    ContactOutcome,
    Schedule,
    ScheduleError,
    TransitionError,
    VisitDefinition,
    VisitState,
    VisitWindow,
    add_months,
    check_transition,
    requires_out_of_window_reason,
    schedule_as_config,
    schedule_from_config,
    suggest_missed,
    visit_state,
    visit_window,
    visit_windows,
)

# No example database: the tests must not write .hypothesis/ into the repository.
PROPERTY = settings(database=None, deadline=None, max_examples=300)

S = VisitState
D = date
BEIJING = timezone(timedelta(hours=8))


# --------------------------------------------------------------------------- add_months

ADD_MONTHS = [
    # Month ends into shorter months clamp to the last day.
    (D(2023, 1, 31), 1, D(2023, 2, 28)),
    (D(2023, 1, 31), 3, D(2023, 4, 30)),
    (D(2023, 1, 31), 6, D(2023, 7, 31)),
    (D(2023, 3, 31), 1, D(2023, 4, 30)),
    (D(2023, 3, 31), 3, D(2023, 6, 30)),
    (D(2023, 3, 31), 6, D(2023, 9, 30)),
    (D(2023, 5, 31), 1, D(2023, 6, 30)),
    (D(2023, 5, 31), 3, D(2023, 8, 31)),
    (D(2023, 5, 31), 6, D(2023, 11, 30)),
    (D(2023, 8, 31), 1, D(2023, 9, 30)),
    (D(2023, 8, 31), 3, D(2023, 11, 30)),
    (D(2023, 8, 31), 6, D(2024, 2, 29)),
    (D(2022, 8, 31), 6, D(2023, 2, 28)),
    (D(2023, 10, 31), 1, D(2023, 11, 30)),
    (D(2023, 10, 31), 3, D(2024, 1, 31)),
    (D(2023, 10, 31), 6, D(2024, 4, 30)),
    (D(2023, 12, 31), 1, D(2024, 1, 31)),
    (D(2023, 12, 31), 3, D(2024, 3, 31)),
    (D(2023, 12, 31), 6, D(2024, 6, 30)),
    (D(2023, 11, 30), 3, D(2024, 2, 29)),
    (D(2022, 11, 30), 3, D(2023, 2, 28)),
    (D(2023, 4, 30), 1, D(2023, 5, 30)),  # a short month's end does not jump to the 31st
    # Leap years: 2020 and 2024 are, 2100 is not (divisible by 100), 2000 is (by 400).
    (D(2020, 1, 31), 1, D(2020, 2, 29)),
    (D(2024, 1, 31), 1, D(2024, 2, 29)),
    (D(2100, 1, 31), 1, D(2100, 2, 28)),
    (D(2000, 1, 31), 1, D(2000, 2, 29)),
    (D(2099, 11, 30), 3, D(2100, 2, 28)),
    (D(1999, 11, 30), 3, D(2000, 2, 29)),
    (D(2024, 1, 29), 1, D(2024, 2, 29)),
    (D(2023, 1, 29), 1, D(2023, 2, 28)),
    (D(2023, 1, 28), 1, D(2023, 2, 28)),
    # Procedures on 29 February.
    (D(2024, 2, 29), 1, D(2024, 3, 29)),
    (D(2024, 2, 29), 3, D(2024, 5, 29)),
    (D(2024, 2, 29), 6, D(2024, 8, 29)),
    (D(2024, 2, 29), 12, D(2025, 2, 28)),
    (D(2024, 2, 29), 48, D(2028, 2, 29)),
    (D(2000, 2, 29), 1200, D(2100, 2, 28)),
    # Year boundaries and zero.
    (D(2023, 12, 15), 1, D(2024, 1, 15)),
    (D(2023, 7, 15), 6, D(2024, 1, 15)),
    (D(2023, 1, 31), 0, D(2023, 1, 31)),
    (D(2024, 2, 29), 0, D(2024, 2, 29)),
    # Negative months clamp the same way.
    (D(2024, 3, 31), -1, D(2024, 2, 29)),
    (D(2023, 3, 31), -1, D(2023, 2, 28)),
    (D(2024, 1, 15), -1, D(2023, 12, 15)),
    (D(2024, 7, 31), -6, D(2024, 1, 31)),
    (D(2024, 8, 31), -6, D(2024, 2, 29)),
    (D(2024, 5, 31), -3, D(2024, 2, 29)),
    (D(2024, 1, 31), -12, D(2023, 1, 31)),
    # The ends of the calendar.
    (D(1, 1, 31), 1, D(1, 2, 28)),
    (D(9999, 11, 30), 1, D(9999, 12, 30)),
]


@pytest.mark.parametrize(("start", "months", "expected"), ADD_MONTHS, ids=str)
def test_add_months_table(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("start", "months"),
    [(D(9999, 12, 31), 1), (D(1, 1, 1), -1), (D(2024, 1, 1), 10**6)],
    ids=["past-9999", "before-year-1", "huge"],
)
def test_add_months_outside_the_calendar(start: date, months: int) -> None:
    with pytest.raises(ValueError, match="outside the years 1 to 9999"):
        add_months(start, months)


@pytest.mark.parametrize("months", [1.0, True, "1", None], ids=repr)
def test_add_months_needs_whole_months(months: object) -> None:
    with pytest.raises(TypeError, match="whole number"):
        add_months(D(2024, 1, 31), months)  # type: ignore[arg-type]


def test_add_months_refuses_a_datetime() -> None:
    with pytest.raises(TypeError, match="not datetime"):
        add_months(datetime(2024, 1, 31, 23, tzinfo=UTC), 1)


any_day = st.dates(min_value=D(1900, 1, 1), max_value=D(2200, 12, 31))


@PROPERTY
@given(start=any_day, months=st.integers(min_value=-240, max_value=240))
def test_add_months_lands_in_the_right_month_and_never_later_in_it(
    start: date, months: int
) -> None:
    result = add_months(start, months)
    year, month_index = divmod(start.year * 12 + start.month - 1 + months, 12)
    assert (result.year, result.month) == (year, month_index + 1)
    assert result.day <= start.day
    # Clamped only when the target month is too short to hold the day.
    assert result.day == min(start.day, calendar.monthrange(year, month_index + 1)[1])


@PROPERTY
@given(start=any_day, months=st.integers(min_value=0, max_value=240))
def test_add_months_is_monotone(start: date, months: int) -> None:
    # Later visits never get earlier targets, and a later procedure never an earlier one.
    assert add_months(start, months) <= add_months(start, months + 1)
    assert add_months(start, months) <= add_months(start + timedelta(days=1), months)


# --------------------------------------------------------------------------- windows

WINDOWS = [
    # (procedure date, visit, target, opens, closes)
    (D(2024, 1, 31), "baseline", D(2024, 1, 31), D(2024, 1, 31), D(2024, 1, 31)),
    (D(2024, 1, 31), "m1", D(2024, 2, 29), D(2024, 2, 22), D(2024, 3, 7)),
    (D(2024, 1, 31), "m3", D(2024, 4, 30), D(2024, 4, 16), D(2024, 5, 14)),
    (D(2024, 1, 31), "m6", D(2024, 7, 31), D(2024, 7, 17), D(2024, 8, 14)),
    (D(2023, 1, 31), "m1", D(2023, 2, 28), D(2023, 2, 21), D(2023, 3, 7)),
    (D(2024, 2, 29), "m1", D(2024, 3, 29), D(2024, 3, 22), D(2024, 4, 5)),
    (D(2024, 2, 29), "m6", D(2024, 8, 29), D(2024, 8, 15), D(2024, 9, 12)),
    (D(2023, 8, 31), "m6", D(2024, 2, 29), D(2024, 2, 15), D(2024, 3, 14)),
    (D(2099, 8, 31), "m6", D(2100, 2, 28), D(2100, 2, 14), D(2100, 3, 14)),
    (D(2023, 11, 30), "m3", D(2024, 2, 29), D(2024, 2, 15), D(2024, 3, 14)),
    (D(2023, 12, 28), "m1", D(2024, 1, 28), D(2024, 1, 21), D(2024, 2, 4)),
    (D(2023, 12, 20), "m1", D(2024, 1, 20), D(2024, 1, 13), D(2024, 1, 27)),
    (D(2023, 7, 1), "m6", D(2024, 1, 1), D(2023, 12, 18), D(2024, 1, 15)),
]


@pytest.mark.parametrize(("procedure", "code", "target", "opens", "closes"), WINDOWS, ids=str)
def test_visit_window_table(
    procedure: date, code: str, target: date, opens: date, closes: date
) -> None:
    window = visit_window(procedure, DEFAULT_SCHEDULE.visit(code))
    assert window == VisitWindow(target=target, opens=opens, closes=closes)


def test_visit_windows_covers_the_schedule_in_order() -> None:
    windows = visit_windows(D(2024, 1, 31), DEFAULT_SCHEDULE)
    assert list(windows) == ["baseline", "m1", "m3", "m6"]
    assert windows["m3"] == visit_window(D(2024, 1, 31), DEFAULT_SCHEDULE.visit("m3"))


def test_window_is_inclusive_at_both_ends() -> None:
    window = VisitWindow(target=D(2024, 3, 1), opens=D(2024, 2, 23), closes=D(2024, 3, 8))
    assert window.contains(D(2024, 2, 23))
    assert window.contains(D(2024, 3, 8))
    assert not window.contains(D(2024, 2, 22))
    assert not window.contains(D(2024, 3, 9))


@pytest.mark.parametrize(
    ("target", "opens", "closes"),
    [
        (D(2024, 3, 1), D(2024, 3, 2), D(2024, 3, 8)),
        (D(2024, 3, 9), D(2024, 3, 2), D(2024, 3, 8)),
    ],
    ids=["target-before-opens", "target-after-closes"],
)
def test_window_refuses_disordered_dates(target: date, opens: date, closes: date) -> None:
    with pytest.raises(ValueError, match="opens <= target <= closes"):
        VisitWindow(target=target, opens=opens, closes=closes)


@PROPERTY
@given(procedure=any_day, code=st.sampled_from(DEFAULT_SCHEDULE.codes))
def test_window_is_target_plus_minus_the_configured_days(procedure: date, code: str) -> None:
    visit = DEFAULT_SCHEDULE.visit(code)
    window = visit_window(procedure, visit)
    assert window.target == add_months(procedure, visit.months)
    assert (window.target - window.opens).days == visit.window_before_days
    assert (window.closes - window.target).days == visit.window_after_days


# --------------------------------------------------------------------------- states

# m1 for a procedure on 31 January 2024: target 29 Feb, window 22 Feb to 7 Mar.
M1 = visit_window(D(2024, 1, 31), DEFAULT_SCHEDULE.visit("m1"))
OPENS, CLOSES = M1.opens, M1.closes
DAY = timedelta(days=1)


def state(
    today: date,
    done_on: date | None = None,
    *,
    missed: bool = False,
    not_applicable: bool = False,
    window: VisitWindow = M1,
) -> VisitState:
    return visit_state(
        window=window,
        today=today,
        done_on=done_on,
        missed=missed,
        not_applicable=not_applicable,
    )


WINDOW_EDGES = [
    pytest.param(OPENS - DAY, None, S.UPCOMING, id="day-before-opens-upcoming"),
    pytest.param(OPENS - 30 * DAY, None, S.UPCOMING, id="long-before-upcoming"),
    pytest.param(OPENS, None, S.DUE, id="opens-due"),
    pytest.param(M1.target, None, S.DUE, id="target-due"),
    pytest.param(CLOSES, None, S.DUE, id="closes-due"),
    pytest.param(CLOSES + DAY, None, S.OVERDUE, id="day-after-closes-overdue"),
    pytest.param(CLOSES + DAY, OPENS, S.DONE, id="done-on-opens"),
    pytest.param(CLOSES + DAY, CLOSES, S.DONE, id="done-on-closes"),
    pytest.param(CLOSES, M1.target, S.DONE, id="done-on-target"),
    pytest.param(CLOSES + DAY, OPENS - DAY, S.DONE_OUT_OF_WINDOW, id="done-day-before-opens"),
    pytest.param(CLOSES + DAY, CLOSES + DAY, S.DONE_OUT_OF_WINDOW, id="done-day-after-closes"),
    pytest.param(OPENS - DAY, OPENS - DAY, S.DONE_OUT_OF_WINDOW, id="done-early-seen-early"),
]


@pytest.mark.parametrize(("today", "done_on", "expected"), WINDOW_EDGES)
def test_window_edges(today: date, done_on: date | None, expected: VisitState) -> None:
    assert state(today, done_on) == expected


def test_one_day_window_of_baseline() -> None:
    window = visit_window(D(2024, 5, 10), DEFAULT_SCHEDULE.visit("baseline"))
    assert state(D(2024, 5, 9), window=window) == S.UPCOMING
    assert state(D(2024, 5, 10), window=window) == S.DUE
    assert state(D(2024, 5, 11), window=window) == S.OVERDUE
    assert state(D(2024, 5, 11), D(2024, 5, 10), window=window) == S.DONE
    # Documented consequence of the 0/0 window: a baseline the day before surgery.
    assert state(D(2024, 5, 11), D(2024, 5, 9), window=window) == S.DONE_OUT_OF_WINDOW


# Today is one of three phases; the recorded facts are every combination of done
# (none, in window, out of window), missed and not applicable.
PHASES = {"before": OPENS - DAY, "during": M1.target, "after": CLOSES + DAY}
TIME_STATES = {"before": S.UPCOMING, "during": S.DUE, "after": S.OVERDUE}
DONE_ON = {"not_done": None, "in_window": M1.target, "out_of_window": CLOSES + DAY}


def expected_state(phase: str, done: str, missed: bool, not_applicable: bool) -> VisitState:
    if done == "in_window":
        return S.DONE
    if done == "out_of_window":
        return S.DONE_OUT_OF_WINDOW
    if not_applicable:
        return S.NOT_APPLICABLE
    if missed:
        return S.MISSED
    return TIME_STATES[phase]


COMBINATIONS = [
    pytest.param(
        phase,
        done,
        missed,
        not_applicable,
        expected_state(phase, done, missed, not_applicable),
        id=f"{phase}-{done}-{'missed' if missed else 'kept'}-{'na' if not_applicable else 'on'}",
    )
    for phase, done, missed, not_applicable in product(
        PHASES, DONE_ON, (False, True), (False, True)
    )
]


@pytest.mark.parametrize(("phase", "done", "missed", "not_applicable", "expected"), COMBINATIONS)
def test_state_for_every_combination(
    phase: str, done: str, missed: bool, not_applicable: bool, expected: VisitState
) -> None:
    today = PHASES[phase]
    done_on = DONE_ON[done]
    # Data cannot be dated after the day it is read; read such rows on the done day.
    if done_on is not None and done_on > today:
        today = done_on
    assert state(today, done_on, missed=missed, not_applicable=not_applicable) == expected


def test_spot_checks_of_precedence() -> None:
    # Done visits stay done after withdrawal; withdrawal wins over a recorded miss.
    assert state(CLOSES + DAY, M1.target, not_applicable=True) == S.DONE
    assert state(CLOSES + DAY, CLOSES + DAY, missed=True, not_applicable=True) == (
        S.DONE_OUT_OF_WINDOW
    )
    assert state(M1.target, missed=True, not_applicable=True) == S.NOT_APPLICABLE
    assert state(OPENS - DAY, not_applicable=True) == S.NOT_APPLICABLE
    assert state(M1.target, missed=True) == S.MISSED


def test_state_refuses_datetimes() -> None:
    with pytest.raises(TypeError, match="today must be a date"):
        state(datetime(2024, 3, 1, tzinfo=UTC))
    with pytest.raises(TypeError, match="day must be a date"):
        state(CLOSES + DAY, datetime(2024, 3, 1, tzinfo=UTC))


def test_state_values_are_the_stored_strings() -> None:
    assert [s.value for s in VisitState] == [
        "upcoming",
        "due",
        "overdue",
        "done",
        "done_out_of_window",
        "missed",
        "not_applicable",
    ]


@pytest.mark.parametrize(
    ("done_on", "expected"),
    [
        (OPENS - DAY, True),
        (OPENS, False),
        (M1.target, False),
        (CLOSES, False),
        (CLOSES + DAY, True),
    ],
    ids=str,
)
def test_requires_out_of_window_reason(done_on: date, expected: bool) -> None:
    assert requires_out_of_window_reason(M1, done_on) is expected


# --------------------------------------------------------------------------- transitions

ALLOWED = [
    (S.UPCOMING, S.DUE),
    (S.UPCOMING, S.OVERDUE),
    (S.UPCOMING, S.DONE),
    (S.UPCOMING, S.DONE_OUT_OF_WINDOW),
    (S.UPCOMING, S.MISSED),
    (S.UPCOMING, S.NOT_APPLICABLE),
    (S.DUE, S.OVERDUE),
    (S.DUE, S.DONE),
    (S.DUE, S.DONE_OUT_OF_WINDOW),
    (S.DUE, S.MISSED),
    (S.DUE, S.NOT_APPLICABLE),
    (S.OVERDUE, S.DONE),
    (S.OVERDUE, S.DONE_OUT_OF_WINDOW),
    (S.OVERDUE, S.MISSED),
    (S.OVERDUE, S.NOT_APPLICABLE),
    (S.DONE, S.DONE_OUT_OF_WINDOW),
    (S.DONE_OUT_OF_WINDOW, S.DONE),
    (S.MISSED, S.DONE),
    (S.MISSED, S.DONE_OUT_OF_WINDOW),
    (S.MISSED, S.NOT_APPLICABLE),
]
ALL_PAIRS = list(product(VisitState, VisitState))
REFUSED = [(old, new) for old, new in ALL_PAIRS if old != new and (old, new) not in ALLOWED]


@pytest.mark.parametrize(("old", "new"), ALLOWED, ids=str)
def test_allowed_transitions(old: VisitState, new: VisitState) -> None:
    check_transition(old, new)
    check_transition(old.value, new.value)


@pytest.mark.parametrize(("old", "new"), REFUSED, ids=str)
def test_refused_transitions(old: VisitState, new: VisitState) -> None:
    with pytest.raises(TransitionError, match=f"from '{old}' to '{new}'"):
        check_transition(old, new)


def test_refused_transitions_include_the_named_examples() -> None:
    for old, new in [
        (S.DONE, S.UPCOMING),
        (S.MISSED, S.DUE),
        (S.DUE, S.UPCOMING),
        (S.OVERDUE, S.DUE),
        (S.DONE, S.NOT_APPLICABLE),
        (S.NOT_APPLICABLE, S.DONE),
    ]:
        assert (old, new) in REFUSED


@pytest.mark.parametrize("unchanged", list(VisitState), ids=str)
def test_staying_put_is_always_allowed(unchanged: VisitState) -> None:
    check_transition(unchanged, unchanged)


def test_transition_table_is_complete_and_not_applicable_is_terminal() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(VisitState)
    assert ALLOWED_TRANSITIONS[S.NOT_APPLICABLE] == frozenset()
    assert all(old not in targets for old, targets in ALLOWED_TRANSITIONS.items())
    with pytest.raises(TransitionError, match=r"nothing \(terminal\)"):
        check_transition(S.NOT_APPLICABLE, S.DONE)


def test_transition_message_lists_what_is_allowed() -> None:
    with pytest.raises(TransitionError, match="may go to done_out_of_window$"):
        check_transition(S.DONE, S.UPCOMING)


def test_check_transition_refuses_unknown_states() -> None:
    with pytest.raises(ValueError, match="'postponed'"):
        check_transition("postponed", S.DONE)


class Reading(NamedTuple):
    """What is known about M1 on one day."""

    today: date
    done_on: date | None
    missed: bool
    not_applicable: bool

    def state(self) -> VisitState:
        return visit_state(window=M1, **self._asdict())


# Two readings of the same visit, the second later and knowing at least as much as the
# first, must always be an allowed transition: the table and visit_state agree.
@st.composite
def two_readings(draw: st.DrawFn) -> tuple[Reading, Reading]:
    days = st.integers(min_value=-40, max_value=40).map(lambda n: M1.target + n * DAY)
    first_today, second_today = sorted((draw(days), draw(days)))
    first = Reading(
        today=first_today,
        done_on=draw(st.none() | days.filter(lambda d: d <= first_today)),
        missed=draw(st.booleans()),
        not_applicable=draw(st.booleans()),
    )
    done_by_second = days.filter(lambda d: d <= second_today)
    if first.done_on is not None:
        # Kept, or corrected to another date (a correction with a reason).
        second_done = draw(st.just(first.done_on) | done_by_second)
    elif first.not_applicable:
        second_done = None  # nothing is collected from a withdrawn participant
    else:
        second_done = draw(st.none() | done_by_second)
    second = Reading(
        today=second_today,
        done_on=second_done,
        missed=first.missed or draw(st.booleans()),
        not_applicable=first.not_applicable or draw(st.booleans()),
    )
    return first, second


@PROPERTY
@given(readings=two_readings())
def test_successive_readings_are_allowed_transitions(readings: tuple[Reading, Reading]) -> None:
    first, second = readings
    check_transition(first.state(), second.state())


# --------------------------------------------------------------------------- contact


def attempts(*rows: tuple[date, str]) -> list[tuple[date, ContactOutcome]]:
    return [(day, ContactOutcome(outcome)) for day, outcome in rows]


NO, WRONG, REACHED, CALL_BACK = "no_answer", "wrong_number", "reached", "call_back"

SUGGEST_MISSED = [
    pytest.param([], False, id="no-attempts"),
    pytest.param(attempts((OPENS, NO), (M1.target, NO)), False, id="two-failed"),
    pytest.param(attempts((OPENS, NO), (M1.target, NO), (M1.target, NO)), True, id="three-failed"),
    pytest.param(
        attempts((OPENS, NO), (OPENS, WRONG), (OPENS, NO), (OPENS, NO)), True, id="four-failed"
    ),
    pytest.param(
        attempts((OPENS, WRONG), (M1.target, NO), (CLOSES, WRONG)), True, id="wrong-numbers-fail"
    ),
    pytest.param(attempts((OPENS, NO), (M1.target, NO), (CLOSES, NO)), True, id="last-day-counts"),
    pytest.param(
        attempts((OPENS, NO), (M1.target, NO), (CLOSES + DAY, NO)), False, id="day-after-not"
    ),
    pytest.param(
        attempts((OPENS - DAY, NO), (M1.target, NO), (CLOSES, NO)), False, id="day-before-not"
    ),
    pytest.param(
        attempts((OPENS, NO), (M1.target, NO), (CLOSES, NO), (CLOSES, REACHED)),
        False,
        id="reached-cancels",
    ),
    pytest.param(
        attempts((OPENS, REACHED), (M1.target, NO), (CLOSES, NO), (CLOSES, NO)),
        False,
        id="reached-first-cancels",
    ),
    pytest.param(
        attempts((OPENS, NO), (M1.target, CALL_BACK), (CLOSES, NO), (CLOSES, NO)),
        False,
        id="call-back-is-contact",
    ),
    pytest.param(
        attempts((OPENS, NO), (M1.target, CALL_BACK), (CLOSES, NO)),
        False,
        id="call-back-not-failed",
    ),
    pytest.param(
        attempts((OPENS - DAY, REACHED), (OPENS, NO), (M1.target, NO), (CLOSES, NO)),
        True,
        id="reached-outside-window-does-not-cancel",
    ),
    pytest.param(
        attempts((CLOSES + DAY, REACHED), (OPENS, NO), (M1.target, NO), (CLOSES, NO)),
        True,
        id="reached-after-window-does-not-cancel",
    ),
]


@pytest.mark.parametrize(("rows", "expected"), SUGGEST_MISSED)
def test_suggest_missed(rows: list[tuple[date, ContactOutcome]], expected: bool) -> None:
    assert suggest_missed(rows, M1) is expected


def test_suggest_missed_threshold_is_a_parameter() -> None:
    two = attempts((OPENS, NO), (CLOSES, NO))
    assert suggest_missed(two, M1, threshold=2) is True
    assert suggest_missed(two, M1, threshold=3) is False
    assert suggest_missed(attempts((OPENS, NO)), M1, threshold=1) is True


@pytest.mark.parametrize("threshold", [0, -1, 2.5, True], ids=repr)
def test_suggest_missed_refuses_a_bad_threshold(threshold: object) -> None:
    with pytest.raises(ValueError, match="threshold must be a whole number >= 1"):
        suggest_missed([], M1, threshold=threshold)  # type: ignore[arg-type]


def test_suggest_missed_accepts_outcome_strings() -> None:
    rows = [(OPENS, "no_answer"), (M1.target, "wrong_number"), (CLOSES, "no_answer")]
    assert suggest_missed(rows, M1) is True
    with pytest.raises(ValueError, match="'busy'"):
        suggest_missed([(OPENS, "busy")], M1)


def test_suggest_missed_dates_datetimes_in_the_site_zone() -> None:
    # 07:00 in Beijing on the day after the window closes is 23:00 UTC on its last day:
    # in the site's zone the call is outside the window.
    late = datetime.combine(CLOSES + DAY, datetime.min.time(), BEIJING).replace(hour=7)
    early = datetime.combine(OPENS, datetime.min.time(), BEIJING).replace(hour=9)
    rows = [(early, NO), (early, NO), (late.astimezone(UTC), NO)]
    assert suggest_missed(rows, M1, tz=BEIJING) is False
    assert suggest_missed(rows, M1, tz=UTC) is True


def test_suggest_missed_refuses_ambiguous_datetimes() -> None:
    aware = datetime(2024, 3, 1, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match="Pass tz="):
        suggest_missed([(aware, NO)], M1)
    naive = datetime(2024, 3, 1, 12)  # noqa: DTZ001 - the naive datetime is the point
    with pytest.raises(ValueError, match="timezone-aware"):
        suggest_missed([(naive, NO)], M1, tz=UTC)


# --------------------------------------------------------------------------- schedule


def test_default_schedule_contents() -> None:
    assert DEFAULT_SCHEDULE.codes == ("baseline", "m1", "m3", "m6")
    rows = [
        (v.code, v.months, v.window_before_days, v.window_after_days, v.by_telephone)
        for v in DEFAULT_SCHEDULE.visits
    ]
    assert rows == [
        ("baseline", 0, 0, 0, False),
        ("m1", 1, 7, 7, False),
        ("m3", 3, 14, 14, False),
        ("m6", 6, 14, 14, True),
    ]
    questionnaires = ("sf_mpq", "gad7", "phq9", "psqi")
    for code in ("baseline", "m1", "m3"):
        assert DEFAULT_SCHEDULE.visit(code).instruments == questionnaires
    assert DEFAULT_SCHEDULE.visit("m6").instruments == (*questionnaires, "tics")
    assert [v.code for v in DEFAULT_SCHEDULE.visits if "tics" in v.instruments] == ["m6"]
    assert [v.code for v in DEFAULT_SCHEDULE.visits if v.extra_forms] == ["m3"]
    assert DEFAULT_SCHEDULE.visit("m3").extra_forms == ("adherence",)
    assert INSTRUMENT_KEYS == ("sf_mpq", "gad7", "phq9", "psqi", "tics")


def test_schedule_lookup_by_code() -> None:
    assert DEFAULT_SCHEDULE.visit("m3").label == "3 months"
    assert "m6" in DEFAULT_SCHEDULE
    assert "m2" not in DEFAULT_SCHEDULE
    with pytest.raises(KeyError, match="No visit 'm2'.*baseline, m1, m3, m6"):
        DEFAULT_SCHEDULE.visit("m2")


def test_schedule_is_frozen_and_hashable() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_SCHEDULE.visit("m1").months = 2  # type: ignore[misc]
    assert hash(DEFAULT_SCHEDULE) == hash(
        schedule_from_config(schedule_as_config(DEFAULT_SCHEDULE))
    )


def test_config_round_trip() -> None:
    config = schedule_as_config(DEFAULT_SCHEDULE)
    assert schedule_from_config(config) == DEFAULT_SCHEDULE
    assert config["visits"][3]["instruments"] == ["sf_mpq", "gad7", "phq9", "psqi", "tics"]


def test_config_defaults_for_optional_keys() -> None:
    schedule = schedule_from_config(
        {
            "visits": [
                {
                    "code": "w2",
                    "label": "2 weeks",
                    "months": 0,
                    "window_before_days": 0,
                    "window_after_days": 3,
                }
            ]
        }
    )
    visit = schedule.visit("w2")
    assert (visit.instruments, visit.extra_forms, visit.by_telephone) == ((), (), False)


def test_config_allows_visits_in_the_same_month() -> None:
    config = schedule_as_config(DEFAULT_SCHEDULE)
    config["visits"].insert(2, {**config["visits"][1], "code": "m1_phone", "extra_forms": []})
    assert schedule_from_config(config).codes == ("baseline", "m1", "m1_phone", "m3", "m6")


def config_with(index: int, **changes: object) -> dict[str, object]:
    config = copy.deepcopy(schedule_as_config(DEFAULT_SCHEDULE))
    config["visits"][index].update(changes)
    for key, value in changes.items():
        if value is REMOVE:
            del config["visits"][index][key]
    return config


REMOVE = object()

CONFIG_ERRORS = [
    pytest.param([], "must be a mapping with a 'visits' list", id="not-a-mapping"),
    pytest.param({}, "'visits' must be a list", id="no-visits"),
    pytest.param({"visits": "m1"}, "'visits' must be a list", id="visits-string"),
    pytest.param({"visits": []}, "at least one visit", id="empty"),
    pytest.param({"visits": [], "version": 2}, "unknown keys 'version'", id="top-level-typo"),
    pytest.param({"visits": ["m1"]}, r"visits\[0\] must be a mapping", id="visit-not-mapping"),
    pytest.param(config_with(1, code="m3"), "'m3' appears more than once", id="duplicate-code"),
    pytest.param(
        config_with(1, window_before_days=-1),
        r"visits\[1\] \(m1\): window_before_days must be a whole number of days >= 0",
        id="negative-before",
    ),
    pytest.param(
        config_with(2, window_after_days=-14),
        r"visits\[2\] \(m3\): window_after_days must be .* >= 0",
        id="negative-after",
    ),
    pytest.param(
        config_with(1, window_after_days=7.5), "window_after_days must be", id="fractional-days"
    ),
    pytest.param(config_with(1, window_after_days=True), "window_after_days", id="bool-days"),
    pytest.param(
        config_with(3, instruments=["sf_mpq", "moca"]),
        r"visits\[3\] \(m6\): unknown instrument 'moca'; known instruments are sf_mpq, gad7",
        id="unknown-instrument",
    ),
    pytest.param(
        config_with(2, instruments=["sf_mpq", "adherence"]),
        "unknown instrument 'adherence'",
        id="adherence-is-not-an-instrument",
    ),
    pytest.param(
        config_with(1, instruments=["gad7", "gad7"]),
        "instruments lists 'gad7' more than once",
        id="duplicate-instrument",
    ),
    pytest.param(
        config_with(1, instruments="gad7"), r"visits\[1\]: instruments must be a list", id="str"
    ),
    pytest.param(
        config_with(2, months=7),
        r"'m6' at 6 months comes after 'm3' at 7 months",
        id="months-decrease",
    ),
    pytest.param(config_with(1, months=-1), "months must be a whole number >= 0", id="neg-months"),
    pytest.param(config_with(1, months="1"), "months must be a whole number", id="str-months"),
    pytest.param(config_with(1, code="M1"), "code must be lower-case", id="code-case"),
    pytest.param(config_with(1, code=""), "code must be lower-case", id="code-empty"),
    pytest.param(config_with(1, label=" "), "label must be non-empty", id="label-blank"),
    pytest.param(config_with(1, by_telephone="yes"), "by_telephone must be", id="telephone-str"),
    pytest.param(config_with(2, extra_forms=["Adherence!"]), "extra form keys", id="form-key"),
    pytest.param(
        config_with(1, window_befor_days=7), r"unknown keys 'window_befor_days'", id="typo"
    ),
    pytest.param(
        config_with(1, months=REMOVE), r"visits\[1\] is missing months", id="missing-months"
    ),
]


@pytest.mark.parametrize(("config", "message"), CONFIG_ERRORS)
def test_config_errors(config: object, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        schedule_from_config(config)  # type: ignore[arg-type]


def test_schedule_error_is_a_value_error() -> None:
    assert issubclass(ScheduleError, ValueError)
    assert issubclass(TransitionError, ValueError)


def test_definitions_built_in_code_are_validated_too() -> None:
    with pytest.raises(ScheduleError, match="instruments must be a tuple"):
        VisitDefinition(
            code="m1",
            label="1 month",
            months=1,
            window_before_days=7,
            window_after_days=7,
            instruments=["gad7"],  # type: ignore[arg-type]
        )
    with pytest.raises(ScheduleError, match="VisitDefinition objects"):
        Schedule(("m1",))  # type: ignore[arg-type]
    with pytest.raises(ScheduleError, match="visits must be a tuple"):
        Schedule(list(DEFAULT_SCHEDULE.visits))  # type: ignore[arg-type]


# Every refusal names what was given, so the person fixing the configuration sees it.
EXACT_CONFIG_ERRORS = [
    pytest.param(
        config_with(1, code="M1"),
        "visits[1] (M1): code must be lower-case letters, digits or underscores, starting "
        "with a letter; got 'M1'",
        id="code",
    ),
    pytest.param(
        config_with(1, label=" "),
        "visits[1] (m1): label must be non-empty text; got ' '",
        id="label",
    ),
    pytest.param(
        config_with(1, months=-1),
        "visits[1] (m1): months must be a whole number >= 0; got -1",
        id="months",
    ),
    pytest.param(
        config_with(1, window_after_days=7.5),
        "visits[1] (m1): window_after_days must be a whole number of days >= 0; got 7.5",
        id="window",
    ),
    pytest.param(
        config_with(2, extra_forms=["Adherence!"]),
        "visits[2] (m3): extra form keys must be lower-case letters, digits or underscores; "
        "got 'Adherence!'",
        id="extra-form",
    ),
    pytest.param(
        config_with(1, by_telephone="yes"),
        "visits[1] (m1): by_telephone must be true or false; got 'yes'",
        id="telephone",
    ),
    pytest.param(
        {"visits": [], "version": 2, "comment": "x"},
        "The schedule configuration has unknown keys 'comment', 'version'; allowed: 'visits'",
        id="top-level-keys",
    ),
    pytest.param(
        {"visits": [7]},
        "visits[0] must be a mapping; got 7",
        id="visit-not-mapping",
    ),
    pytest.param(
        config_with(1, months=REMOVE, label=REMOVE),
        "visits[1] is missing label, months",
        id="missing-keys",
    ),
    pytest.param(
        config_with(1, window_befor_days=7, notes="x"),
        "visits[1] has unknown keys 'notes', 'window_befor_days'",
        id="unknown-keys",
    ),
    pytest.param(
        config_with(1, extra_forms="adherence"),
        "visits[1]: extra_forms must be a list; got 'adherence'",
        id="list",
    ),
]


@pytest.mark.parametrize(("config", "message"), EXACT_CONFIG_ERRORS)
def test_config_errors_name_the_value(config: object, message: str) -> None:
    with pytest.raises(ScheduleError) as error:
        schedule_from_config(config)  # type: ignore[arg-type]
    assert str(error.value) == message


def test_unknown_keys_of_mixed_types_are_listed_not_a_type_error() -> None:
    # Keys read from YAML or built in code need not be strings: still a ScheduleError.
    visit = {**schedule_as_config(DEFAULT_SCHEDULE)["visits"][0], 3: "x", "notes": "y"}
    with pytest.raises(ScheduleError) as error:
        schedule_from_config({"visits": [visit]})
    assert str(error.value) == "visits[0] has unknown keys 3, 'notes'"


def test_definition_errors_in_code_name_the_value() -> None:
    with pytest.raises(ScheduleError) as error:
        VisitDefinition(
            code="m1",
            label="1 month",
            months=1,
            window_before_days=7,
            window_after_days=7,
            instruments=["gad7"],  # type: ignore[arg-type]
        )
    assert str(error.value) == "instruments must be a tuple; got ['gad7']"
    with pytest.raises(ScheduleError) as error:
        Schedule(("m1",))  # type: ignore[arg-type]
    assert str(error.value) == "A schedule holds VisitDefinition objects; got 'm1'"
    with pytest.raises(ScheduleError) as error:
        Schedule([])  # type: ignore[arg-type]
    assert str(error.value) == "visits must be a tuple; got []"


class _NoOffset(tzinfo):
    """A tzinfo that does not know its offset: the datetime is still naive."""

    def utcoffset(self, dt: datetime | None) -> None:
        return None

    def dst(self, dt: datetime | None) -> None:
        return None


def test_suggest_missed_refuses_a_datetime_whose_zone_has_no_offset() -> None:
    when = datetime(2024, 2, 25, 9, 0, tzinfo=_NoOffset())
    with pytest.raises(ValueError) as error:
        suggest_missed([(when, ContactOutcome.NO_ANSWER)], M1, tz=BEIJING)
    assert str(error.value) == (
        f"A contact attempt's datetime must be timezone-aware; got {when!r}"
    )


def test_suggest_missed_names_a_naive_datetime() -> None:
    when = datetime(2024, 2, 25, 9, 0)  # noqa: DTZ001 - the naive datetime is the point
    with pytest.raises(ValueError) as error:
        suggest_missed([(when, ContactOutcome.NO_ANSWER)], M1, tz=BEIJING)
    assert str(error.value) == (
        f"A contact attempt's datetime must be timezone-aware; got {when!r}"
    )


def test_suggest_missed_refuses_an_attempt_that_is_not_a_date() -> None:
    with pytest.raises(TypeError) as error:
        suggest_missed([("2024-02-25", ContactOutcome.NO_ANSWER)], M1)
    assert str(error.value) == (
        "attempt date must be a date, not str; take the date in the site's time zone first"
    )


@pytest.mark.parametrize("threshold", [0, 2.0, True])
def test_suggest_missed_names_the_bad_threshold(threshold: object) -> None:
    with pytest.raises(ValueError) as error:
        suggest_missed([], M1, threshold=threshold)  # type: ignore[arg-type]
    assert str(error.value) == f"threshold must be a whole number >= 1; got {threshold!r}"


def test_refused_transition_lists_every_allowed_state() -> None:
    with pytest.raises(TransitionError) as error:
        check_transition(S.MISSED, S.UPCOMING)
    assert str(error.value) == (
        "A visit cannot go from 'missed' to 'upcoming'; from 'missed' it may go to "
        "done, done_out_of_window, not_applicable"
    )
    with pytest.raises(TransitionError) as error:
        check_transition(S.NOT_APPLICABLE, S.DONE)
    assert str(error.value) == (
        "A visit cannot go from 'not_applicable' to 'done'; from 'not_applicable' it may go "
        "to nothing (terminal)"
    )


def test_disordered_window_names_its_three_dates() -> None:
    with pytest.raises(ValueError) as error:
        VisitWindow(target=D(2024, 3, 9), opens=D(2024, 3, 2), closes=D(2024, 3, 8))
    assert str(error.value) == (
        "A visit window must satisfy opens <= target <= closes; got 2024-03-02, 2024-03-09, "
        "2024-03-08"
    )


@pytest.mark.parametrize("name", ["target", "opens", "closes"])
def test_window_names_the_date_that_is_a_datetime(name: str) -> None:
    days = {"target": D(2024, 3, 1), "opens": D(2024, 2, 23), "closes": D(2024, 3, 8)}
    days[name] = datetime(2024, 3, 1, tzinfo=UTC)
    with pytest.raises(TypeError) as error:
        VisitWindow(**days)  # type: ignore[arg-type]
    assert str(error.value) == (
        f"{name} must be a date, not datetime; take the date in the site's time zone first"
    )


def test_add_months_names_what_it_refused() -> None:
    with pytest.raises(TypeError) as error:
        add_months(datetime(2024, 1, 31, 23, tzinfo=UTC), 1)  # type: ignore[arg-type]
    assert str(error.value) == (
        "d must be a date, not datetime; take the date in the site's time zone first"
    )
    with pytest.raises(TypeError) as error:
        add_months(D(2024, 1, 31), 1.5)  # type: ignore[arg-type]
    assert str(error.value) == "months must be a whole number, not 1.5"
    with pytest.raises(ValueError) as error:
        add_months(D(1, 1, 31), -1)
    assert str(error.value) == "0001-01-31 + -1 months is outside the years 1 to 9999"
