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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import MAXYEAR, MINYEAR, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

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

# The questionnaire keys of shared/instruments.md; anything else at a visit (adherence,
# pill counts) is an extra form, so the scoring layer never meets an unknown instrument.
INSTRUMENT_KEYS: tuple[str, ...] = ("sf_mpq", "gad7", "phq9", "psqi", "tics")

# Visit codes and form keys end up in CSV columns and URLs (contracts.md, visits.csv).
_CODE_RE = re.compile(r"[a-z][a-z0-9_]*")

_NOT_A_DATE = "{name} must be a date, not {kind}; take the date in the site's time zone first"
_MONTHS_NOT_INT = "months must be a whole number, not {value!r}"
_OUT_OF_RANGE = "{d} + {months} months is outside the years {low} to {high}"
_WINDOW_ORDER = (
    "A visit window must satisfy opens <= target <= closes; got {opens}, {target}, {closes}"
)

_BAD_CODE = (
    "code must be lower-case letters, digits or underscores, starting with a letter; got {value!r}"
)
_BAD_LABEL = "label must be non-empty text; got {value!r}"
_BAD_MONTHS = "months must be a whole number >= 0; got {value!r}"
_BAD_WINDOW = "{name} must be a whole number of days >= 0; got {value!r}"
_NOT_A_TUPLE = "{name} must be a tuple; got {value!r}"
_UNKNOWN_INSTRUMENT = "unknown instrument {value!r}; known instruments are {known}"
_DUPLICATE_ITEM = "{name} lists {value!r} more than once"
_BAD_FORM = "extra form keys must be lower-case letters, digits or underscores; got {value!r}"
_BAD_TELEPHONE = "by_telephone must be true or false; got {value!r}"
_EMPTY_SCHEDULE = "A schedule needs at least one visit"
_NOT_A_VISIT = "A schedule holds VisitDefinition objects; got {value!r}"
_DUPLICATE_CODE = "Visit code {code!r} appears more than once"
_MONTHS_DECREASE = (
    "Visits must be in time order: {code!r} at {months} months comes after "
    "{previous!r} at {previous_months} months"
)
_NO_SUCH_VISIT = "No visit {code!r} in the schedule; the visits are {codes}"

_CONFIG_NOT_MAPPING = "The schedule configuration must be a mapping with a 'visits' list"
_CONFIG_KEYS = "The schedule configuration has unknown keys {keys}; allowed: 'visits'"
_CONFIG_VISITS = "'visits' must be a list of visit mappings"
_CONFIG_VISIT = "visits[{index}] must be a mapping; got {value!r}"
_CONFIG_MISSING = "visits[{index}] is missing {keys}"
_CONFIG_UNKNOWN = "visits[{index}] has unknown keys {keys}"
_CONFIG_LIST = "visits[{index}]: {name} must be a list; got {value!r}"
_CONFIG_PREFIX = "visits[{index}] ({code}): {message}"

_REFUSED_TRANSITION = (
    "A visit cannot go from {old!r} to {new!r}; from {old!r} it may go to {allowed}"
)
_BAD_THRESHOLD = "threshold must be a whole number >= 1; got {value!r}"
_NAIVE_ATTEMPT = "A contact attempt's datetime must be timezone-aware; got {value!r}"
_ATTEMPT_NEEDS_TZ = "Pass tz= (the site's time zone) to date contact attempts given as datetimes"


class ScheduleError(ValueError):
    """A schedule (or one visit of it) that the trial could not run."""


class TransitionError(ValueError):
    """A change of visit state that cannot happen."""


def _require_day(value: object, name: str) -> None:
    # datetime is a subclass of date, so isinstance(value, date) alone would let a UTC
    # timestamp through and silently compare it as a day.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(_NOT_A_DATE.format(name=name, kind=type(value).__name__))


def _is_whole(value: object) -> bool:
    # bool is an int subclass; True months or True days is a configuration mistake.
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------- months


def add_months(d: date, months: int) -> date:
    """Return ``d`` plus ``months`` calendar months, clamped to the target month's end.

    31 January + 1 month is 28 February (29 in a leap year), 31 March + 1 month is
    30 April. ``months`` may be zero or negative; a negative count clamps the same way.
    The day of the result is never later than the day of ``d``.
    """
    _require_day(d, "d")
    if not _is_whole(months):
        raise TypeError(_MONTHS_NOT_INT.format(value=months))
    year, month_index = divmod(d.year * 12 + (d.month - 1) + months, 12)
    if not MINYEAR <= year <= MAXYEAR:
        raise ValueError(_OUT_OF_RANGE.format(d=d, months=months, low=MINYEAR, high=MAXYEAR))
    month = month_index + 1
    last_day = calendar.monthrange(year, month)[1]
    return date(year, month, min(d.day, last_day))


# --------------------------------------------------------------------------- schedule


@dataclass(frozen=True, kw_only=True)
class VisitDefinition:
    """One visit of the schedule: when it falls, its window and what is collected.

    ``instruments`` holds questionnaire keys only (:data:`INSTRUMENT_KEYS`); other forms
    due at the visit (the adherence check at m3) are ``extra_forms``, so that scoring
    code can iterate over ``instruments`` without meeting a non-questionnaire.
    Keyword-only because two adjacent integer windows are easy to swap by position.
    """

    code: str
    label: str
    months: int
    window_before_days: int
    window_after_days: int
    instruments: tuple[str, ...]
    extra_forms: tuple[str, ...] = ()
    by_telephone: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not _CODE_RE.fullmatch(self.code):
            raise ScheduleError(_BAD_CODE.format(value=self.code))
        if not isinstance(self.label, str) or not self.label.strip():
            raise ScheduleError(_BAD_LABEL.format(value=self.label))
        # A negative offset would put a follow-up visit before the procedure it follows.
        if not _is_whole(self.months) or self.months < 0:
            raise ScheduleError(_BAD_MONTHS.format(value=self.months))
        for name in ("window_before_days", "window_after_days"):
            value = getattr(self, name)
            if not _is_whole(value) or value < 0:
                raise ScheduleError(_BAD_WINDOW.format(name=name, value=value))
        # Tuples, not lists: the definition is frozen and hashable, and a list could
        # still be changed in place after validation.
        for name in ("instruments", "extra_forms"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                raise ScheduleError(_NOT_A_TUPLE.format(name=name, value=value))
            for position, key in enumerate(value):
                if key in value[:position]:
                    raise ScheduleError(_DUPLICATE_ITEM.format(name=name, value=key))
        for key in self.instruments:
            if key not in INSTRUMENT_KEYS:
                known = ", ".join(INSTRUMENT_KEYS)
                raise ScheduleError(_UNKNOWN_INSTRUMENT.format(value=key, known=known))
        for key in self.extra_forms:
            if not isinstance(key, str) or not _CODE_RE.fullmatch(key):
                raise ScheduleError(_BAD_FORM.format(value=key))
        if not isinstance(self.by_telephone, bool):
            raise ScheduleError(_BAD_TELEPHONE.format(value=self.by_telephone))


@dataclass(frozen=True)
class Schedule:
    """The visits of a trial, in time order, each code once."""

    visits: tuple[VisitDefinition, ...]
    _by_code: dict[str, VisitDefinition] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.visits, tuple):
            raise ScheduleError(_NOT_A_TUPLE.format(name="visits", value=self.visits))
        if not self.visits:
            raise ScheduleError(_EMPTY_SCHEDULE)
        by_code: dict[str, VisitDefinition] = {}
        previous: VisitDefinition | None = None
        for visit in self.visits:
            if not isinstance(visit, VisitDefinition):
                raise ScheduleError(_NOT_A_VISIT.format(value=visit))
            if visit.code in by_code:
                raise ScheduleError(_DUPLICATE_CODE.format(code=visit.code))
            # Worklists and exports list visits in schedule order; out-of-order months
            # would show m6 before m3. Equal months are allowed (two visits, same day).
            if previous is not None and visit.months < previous.months:
                raise ScheduleError(
                    _MONTHS_DECREASE.format(
                        code=visit.code,
                        months=visit.months,
                        previous=previous.code,
                        previous_months=previous.months,
                    )
                )
            by_code[visit.code] = visit
            previous = visit
        object.__setattr__(self, "_by_code", by_code)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(visit.code for visit in self.visits)

    def visit(self, code: str) -> VisitDefinition:
        """The visit with this code; ``KeyError`` if the schedule has none."""
        try:
            return self._by_code[code]
        except KeyError:
            message = _NO_SUCH_VISIT.format(code=code, codes=", ".join(self.codes))
            raise KeyError(message) from None

    def __contains__(self, code: object) -> bool:
        return code in self._by_code


_QUESTIONNAIRES = ("sf_mpq", "gad7", "phq9", "psqi")

DEFAULT_SCHEDULE = Schedule(
    (
        # Baseline is collected at enrolment, before surgery; its target is the
        # procedure date and its window that one day, so a baseline dated before the
        # procedure reads as done out of window unless the caller treats it apart.
        VisitDefinition(
            code="baseline",
            label="Baseline",
            months=0,
            window_before_days=0,
            window_after_days=0,
            instruments=_QUESTIONNAIRES,
        ),
        VisitDefinition(
            code="m1",
            label="1 month",
            months=1,
            window_before_days=7,
            window_after_days=7,
            instruments=_QUESTIONNAIRES,
        ),
        # m3 is the end of the 12-week treatment, hence the adherence form.
        VisitDefinition(
            code="m3",
            label="3 months",
            months=3,
            window_before_days=14,
            window_after_days=14,
            instruments=_QUESTIONNAIRES,
            extra_forms=("adherence",),
        ),
        # m6 adds TICS, given by telephone by the blinded assessor.
        VisitDefinition(
            code="m6",
            label="6 months",
            months=6,
            window_before_days=14,
            window_after_days=14,
            instruments=(*_QUESTIONNAIRES, "tics"),
            by_telephone=True,
        ),
    )
)

_REQUIRED_KEYS = ("code", "label", "months", "window_before_days", "window_after_days")
_OPTIONAL_KEYS = ("instruments", "extra_forms", "by_telephone")


def schedule_from_config(config: Mapping[str, Any]) -> Schedule:
    """Build a :class:`Schedule` from plain data, as read from JSON.

    Shape::

        {"visits": [{"code": "m1", "label": "1 month", "months": 1,
                     "window_before_days": 7, "window_after_days": 7,
                     "instruments": ["sf_mpq", "gad7"], "extra_forms": [],
                     "by_telephone": false}, ...]}

    ``instruments`` and ``extra_forms`` default to empty, ``by_telephone`` to false.
    Unknown keys are refused so that a misspelt key is not silently ignored. Every
    problem raises :class:`ScheduleError` naming the visit's position and code.
    """
    if not isinstance(config, Mapping):
        raise ScheduleError(_CONFIG_NOT_MAPPING)
    unknown = sorted(set(config) - {"visits"})
    if unknown:
        raise ScheduleError(_CONFIG_KEYS.format(keys=", ".join(map(repr, unknown))))
    raw_visits = config.get("visits")
    # A string is a Sequence too; refusing it avoids iterating over characters.
    if not isinstance(raw_visits, Sequence) or isinstance(raw_visits, str | bytes):
        raise ScheduleError(_CONFIG_VISITS)
    visits = tuple(_visit_from_config(index, raw) for index, raw in enumerate(raw_visits))
    return Schedule(visits)


def _visit_from_config(index: int, raw: object) -> VisitDefinition:
    if not isinstance(raw, Mapping):
        raise ScheduleError(_CONFIG_VISIT.format(index=index, value=raw))
    missing = [key for key in _REQUIRED_KEYS if key not in raw]
    if missing:
        raise ScheduleError(_CONFIG_MISSING.format(index=index, keys=", ".join(missing)))
    unknown = sorted(set(raw) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS), key=str)
    if unknown:
        keys = ", ".join(map(repr, unknown))
        raise ScheduleError(_CONFIG_UNKNOWN.format(index=index, keys=keys))
    lists: dict[str, tuple[Any, ...]] = {}
    for name in ("instruments", "extra_forms"):
        value = raw.get(name, ())
        if not isinstance(value, list | tuple):
            raise ScheduleError(_CONFIG_LIST.format(index=index, name=name, value=value))
        lists[name] = tuple(value)
    try:
        return VisitDefinition(
            code=raw["code"],
            label=raw["label"],
            months=raw["months"],
            window_before_days=raw["window_before_days"],
            window_after_days=raw["window_after_days"],
            instruments=lists["instruments"],
            extra_forms=lists["extra_forms"],
            by_telephone=raw.get("by_telephone", False),
        )
    except ScheduleError as error:
        message = _CONFIG_PREFIX.format(index=index, code=raw["code"], message=error)
        raise ScheduleError(message) from None


def schedule_as_config(schedule: Schedule) -> dict[str, Any]:
    """The plain-data form of ``schedule``, which :func:`schedule_from_config` reads back."""
    return {
        "visits": [
            {
                "code": visit.code,
                "label": visit.label,
                "months": visit.months,
                "window_before_days": visit.window_before_days,
                "window_after_days": visit.window_after_days,
                "instruments": list(visit.instruments),
                "extra_forms": list(visit.extra_forms),
                "by_telephone": visit.by_telephone,
            }
            for visit in schedule.visits
        ]
    }


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
    if not _is_whole(threshold) or threshold < 1:
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
