"""Pure domain layer: the follow-up visit schedule, visit windows and visit states.

No Django, no database, no settings. Everything takes and returns plain dates, so the
services, the worklists and the tests all share one definition of "when is this visit
due" (shared/protocol.md, "Visits and measures").

- :func:`add_months` counts calendar months and clamps to the end of a short month
  (31 January + 1 month is 28 or 29 February).
- :class:`VisitDefinition` / :class:`Schedule` are the schedule as configuration;
  :data:`DEFAULT_SCHEDULE` is the trial's (baseline, m1, m3, m6) and
  :func:`schedule_from_config` builds another one from a plain dict (JSON).
- :func:`visit_window` gives a visit's target date and its window, inclusive at both ends.
- :func:`visit_state` derives a visit's state from recorded facts and today's date;
  :data:`ALLOWED_TRANSITIONS` / :func:`check_transition` say which changes are possible.
- :func:`suggest_missed` says when failed contact attempts suggest recording a miss.

Dates of clinical events are ``date`` objects. Passing a ``datetime`` where a date is
expected raises ``TypeError``: the caller must first take the date in the site's time
zone, because a UTC timestamp's date can be a day off at a window's edge.

Labels here are English source strings; the Django layer translates them for display.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, datetime, timedelta, tzinfo
from enum import StrEnum

# The schedule itself is declared with the questionnaires (the lowest app that files
# anything by visit); it is re-exported here, where the follow-up reads it.
from questionnaires.schedule import (
    DEFAULT_SCHEDULE,
    INSTRUMENT_KEYS,
    Schedule,
    ScheduleError,
    VisitDefinition,
    is_whole,
    schedule_as_config,
    schedule_from_config,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "DEFAULT_SCHEDULE",
    "FAILED_OUTCOMES",
    "INSTRUMENT_KEYS",
    "MISSED_SUGGESTION_THRESHOLD",
    "ContactAttempt",
    "ContactOutcome",
    "Schedule",
    "ScheduleError",
    "TransitionError",
    "VisitDefinition",
    "VisitState",
    "VisitWindow",
    "add_months",
    "check_transition",
    "requires_out_of_window_reason",
    "schedule_as_config",
    "schedule_from_config",
    "suggest_missed",
    "visit_state",
    "visit_window",
    "visit_windows",
]

_NOT_A_DATE = "{name} must be a date, not {kind}; take the date in the site's time zone first"
_MONTHS_NOT_INT = "months must be a whole number, not {value!r}"
_OUT_OF_RANGE = "{d} + {months} months is outside the years {low} to {high}"
_WINDOW_ORDER = (
    "A visit window must satisfy opens <= target <= closes; got {opens}, {target}, {closes}"
)

_REFUSED_TRANSITION = (
    "A visit cannot go from {old!r} to {new!r}; from {old!r} it may go to {allowed}"
)
_BAD_THRESHOLD = "threshold must be a whole number >= 1; got {value!r}"
_NAIVE_ATTEMPT = "A contact attempt's datetime must be timezone-aware; got {value!r}"
_ATTEMPT_NEEDS_TZ = "Pass tz= (the site's time zone) to date contact attempts given as datetimes"


class TransitionError(ValueError):
    """A change of visit state that cannot happen."""


def _require_day(value: object, name: str) -> None:
    # datetime is a subclass of date, so isinstance(value, date) alone would let a UTC
    # timestamp through and silently compare it as a day.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(_NOT_A_DATE.format(name=name, kind=type(value).__name__))


# --------------------------------------------------------------------------- months


def add_months(d: date, months: int) -> date:
    """Return ``d`` plus ``months`` calendar months, clamped to the target month's end.

    31 January + 1 month is 28 February (29 in a leap year), 31 March + 1 month is
    30 April. ``months`` may be zero or negative; a negative count clamps the same way.
    The day of the result is never later than the day of ``d``.
    """
    _require_day(d, "d")
    if not is_whole(months):
        raise TypeError(_MONTHS_NOT_INT.format(value=months))
    year, month_index = divmod(d.year * 12 + (d.month - 1) + months, 12)
    if not MINYEAR <= year <= MAXYEAR:
        raise ValueError(_OUT_OF_RANGE.format(d=d, months=months, low=MINYEAR, high=MAXYEAR))
    month = month_index + 1
    last_day = calendar.monthrange(year, month)[1]
    return date(year, month, min(d.day, last_day))


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class VisitWindow:
    """A visit's target date and its window; ``opens`` and ``closes`` are both inside."""

    target: date
    opens: date
    closes: date

    def __post_init__(self) -> None:
        for name in ("target", "opens", "closes"):
            _require_day(getattr(self, name), name)
        if not self.opens <= self.target <= self.closes:
            raise ValueError(
                _WINDOW_ORDER.format(opens=self.opens, target=self.target, closes=self.closes)
            )

    def contains(self, day: date) -> bool:
        _require_day(day, "day")
        return self.opens <= day <= self.closes


def visit_window(procedure_date: date, definition: VisitDefinition) -> VisitWindow:
    """The window of one visit, counted from the procedure date in calendar months."""
    target = add_months(procedure_date, definition.months)
    return VisitWindow(
        target=target,
        opens=target - timedelta(days=definition.window_before_days),
        closes=target + timedelta(days=definition.window_after_days),
    )


def visit_windows(procedure_date: date, schedule: Schedule) -> dict[str, VisitWindow]:
    """Every visit's window, keyed by visit code, in schedule order."""
    return {visit.code: visit_window(procedure_date, visit) for visit in schedule.visits}


def requires_out_of_window_reason(window: VisitWindow, done_on: date) -> bool:
    """True when a visit done on ``done_on`` is out of window and so needs a reason."""
    return not window.contains(done_on)


# --------------------------------------------------------------------------- states


class VisitState(StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"
    DONE = "done"
    DONE_OUT_OF_WINDOW = "done_out_of_window"
    MISSED = "missed"
    NOT_APPLICABLE = "not_applicable"


def visit_state(
    *,
    window: VisitWindow,
    today: date,
    done_on: date | None,
    missed: bool,
    not_applicable: bool,
) -> VisitState:
    """The state of one visit on ``today``, from what has been recorded about it.

    Precedence, first match wins:

    1. ``done_on`` set: DONE inside the window, DONE_OUT_OF_WINDOW outside it. Collected
       data is never hidden, not even by a later withdrawal or a recorded miss.
    2. ``not_applicable`` (the participant withdrew): NOT_APPLICABLE, even over a
       recorded miss, because nothing more will be asked of her at this visit.
    3. ``missed``: MISSED.
    4. Otherwise by today's date: UPCOMING before the window, DUE inside it, OVERDUE
       after it.
    """
    _require_day(today, "today")
    if done_on is not None:
        return VisitState.DONE if window.contains(done_on) else VisitState.DONE_OUT_OF_WINDOW
    if not_applicable:
        return VisitState.NOT_APPLICABLE
    if missed:
        return VisitState.MISSED
    if today < window.opens:
        return VisitState.UPCOMING
    if today <= window.closes:
        return VisitState.DUE
    return VisitState.OVERDUE


_S = VisitState

# Which state may follow which, between two successive readings of the same visit. The
# readings need not be a day apart (a worklist may not be opened for weeks), so time may
# skip a state, and data entry may lag the visit itself. Staying in the same state is
# always allowed and not listed. Moving a window by correcting the procedure date is a
# correction with a reason in the audit trail, not a transition, and is not checked here.
ALLOWED_TRANSITIONS: dict[VisitState, frozenset[VisitState]] = {
    _S.UPCOMING: frozenset(
        {
            _S.DUE,  # the window opens
            _S.OVERDUE,  # the window opened and closed between two readings
            _S.DONE,  # the window opened and the visit was done in it between two readings
            _S.DONE_OUT_OF_WINDOW,  # done early, kept and flagged with a reason
            _S.MISSED,  # the participant has said she cannot attend (e.g. abroad)
            _S.NOT_APPLICABLE,  # withdrawal
        }
    ),
    _S.DUE: frozenset(
        {
            _S.OVERDUE,  # the window closes without the visit
            _S.DONE,  # done in the window
            _S.DONE_OUT_OF_WINDOW,  # done after the window closed, between two readings
            _S.MISSED,  # refused, or unreachable (see suggest_missed)
            _S.NOT_APPLICABLE,  # withdrawal
        }
    ),
    _S.OVERDUE: frozenset(
        {
            _S.DONE,  # done in the window but entered after it closed
            _S.DONE_OUT_OF_WINDOW,  # done late, kept and flagged with a reason
            _S.MISSED,  # given up on
            _S.NOT_APPLICABLE,  # withdrawal
        }
    ),
    # Corrections of the visit date (audited, with a reason) can move a done visit into
    # or out of its window; nothing else undoes collected data, and a withdrawal after
    # the visit leaves it done.
    _S.DONE: frozenset({_S.DONE_OUT_OF_WINDOW}),
    _S.DONE_OUT_OF_WINDOW: frozenset({_S.DONE}),
    _S.MISSED: frozenset(
        {
            # A miss can be recorded while the window is still open (three failed
            # calls), and she may then call back in time.
            _S.DONE,
            _S.DONE_OUT_OF_WINDOW,  # late data recovered, kept and flagged
            _S.NOT_APPLICABLE,  # withdrawal; visit_state lets it win over a miss
            # Not back to UPCOMING, DUE or OVERDUE: retracting a recorded miss is a
            # correction, not something the passing of time can do.
        }
    ),
    # Terminal: a withdrawn participant is not followed up, so no data may be recorded
    # for the visit afterwards.
    _S.NOT_APPLICABLE: frozenset(),
}


def check_transition(old: VisitState | str, new: VisitState | str) -> None:
    """Raise :class:`TransitionError` unless a visit may go from ``old`` to ``new``.

    ``old`` and ``new`` may be the enum or its string value; an unknown string raises
    ``ValueError``. Staying in the same state is always allowed.
    """
    old_state, new_state = VisitState(old), VisitState(new)
    if old_state == new_state or new_state in ALLOWED_TRANSITIONS[old_state]:
        return
    allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[old_state])) or "nothing (terminal)"
    raise TransitionError(
        _REFUSED_TRANSITION.format(old=old_state.value, new=new_state.value, allowed=allowed)
    )


# --------------------------------------------------------------------------- contact


class ContactOutcome(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"
    # Someone answered and asked to be called at another time: the participant was
    # reached, so this is contact, not a failed attempt.
    CALL_BACK = "call_back"


# The outcomes that count towards suggesting a miss. REACHED and CALL_BACK are contact;
# one of them inside the window means the participant is still engaged.
FAILED_OUTCOMES: frozenset[ContactOutcome] = frozenset(
    {ContactOutcome.NO_ANSWER, ContactOutcome.WRONG_NUMBER}
)

MISSED_SUGGESTION_THRESHOLD = 3

ContactAttempt = tuple[date | datetime, ContactOutcome | str]


def _attempt_day(when: date | datetime, tz: tzinfo | None) -> date:
    if isinstance(when, datetime):
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(_NAIVE_ATTEMPT.format(value=when))
        # Required rather than defaulted: stored datetimes are UTC, and a call at 07:00
        # in Beijing is the previous day in UTC, which matters on a window's last day.
        if tz is None:
            raise ValueError(_ATTEMPT_NEEDS_TZ)
        return when.astimezone(tz).date()
    _require_day(when, "attempt date")
    return when


def suggest_missed(
    attempts: Sequence[ContactAttempt],
    window: VisitWindow,
    *,
    threshold: int = MISSED_SUGGESTION_THRESHOLD,
    tz: tzinfo | None = None,
) -> bool:
    """True when the contact attempts inside the window suggest recording a miss.

    That is: at least ``threshold`` failed attempts (no answer, wrong number) dated
    inside the window, and no contact (reached, call back) inside it. Attempts outside
    the window are ignored either way: calls made for another visit, or before the
    window opened, say nothing about this one. This is only a suggestion; a person
    records the miss, with its reason.

    An attempt is ``(when, outcome)`` where ``when`` is a date, or a timezone-aware
    datetime together with ``tz``, the site's time zone, in which its date is taken.
    """
    if not is_whole(threshold) or threshold < 1:
        raise ValueError(_BAD_THRESHOLD.format(value=threshold))
    failed = 0
    contacted = False  # pragma: no mutate (None, mutmut's change, reads the same below)
    # Every attempt is read, so a bad one raises whatever its position in the list.
    for when, outcome in attempts:
        contact_outcome = ContactOutcome(outcome)
        if not window.contains(_attempt_day(when, tz)):
            continue
        if contact_outcome in FAILED_OUTCOMES:
            failed += 1
        else:
            contacted = True
    return failed >= threshold and not contacted
