"""Pure domain layer: the trial's schedule as data — which visits there are, when
each falls, its window, and which instruments and forms it collects.

No Django, no database, no settings. It lives with the questionnaires because a
response is filed by its visit, and this is the lowest app that needs the visits;
every app above (follow-up, analysis, the exports) reads the same declaration,
configured once (``FOLLOWUP_SCHEDULE``; ``questionnaires.visits`` loads it).

- :class:`VisitDefinition` / :class:`Schedule` are the schedule;
  :data:`DEFAULT_SCHEDULE` is the protocol's (baseline, m1, m3, m6) and
  :func:`schedule_from_config` builds another one from a plain dict (JSON), which
  :func:`schedule_as_config` writes back.
- A visit may be marked ``persistent_pain`` (an endpoint of the analysis plan:
  incidence of VAS >= 30 mm is compared there); the TICS visit is the one that
  collects ``tics``; the completion visit is the last one.

Labels here are English source strings; the Django layer translates them for display.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .scoring import INSTRUMENT_KEYS

__all__ = [
    "DEFAULT_SCHEDULE",
    "INSTRUMENT_KEYS",
    "Schedule",
    "ScheduleError",
    "VisitDefinition",
    "is_whole",
    "schedule_as_config",
    "schedule_from_config",
]

# Visit codes and form keys end up in CSV columns and URLs (contracts.md, visits.csv).
_CODE_RE = re.compile(r"[a-z][a-z0-9_]*")

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
_BAD_FLAG = "{name} must be true or false; got {value!r}"
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


class ScheduleError(ValueError):
    """A schedule (or one visit of it) that the trial could not run."""


def is_whole(value: object) -> bool:
    """A whole number that is not a bool (True months or days is a configuration slip)."""
    return isinstance(value, int) and not isinstance(value, bool)


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
    # An endpoint of the analysis plan: persistent pain (VAS >= 30 mm) is compared here.
    persistent_pain: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not _CODE_RE.fullmatch(self.code):
            raise ScheduleError(_BAD_CODE.format(value=self.code))
        if not isinstance(self.label, str) or not self.label.strip():
            raise ScheduleError(_BAD_LABEL.format(value=self.label))
        # A negative offset would put a follow-up visit before the procedure it follows.
        if not is_whole(self.months) or self.months < 0:
            raise ScheduleError(_BAD_MONTHS.format(value=self.months))
        for name in ("window_before_days", "window_after_days"):
            value = getattr(self, name)
            if not is_whole(value) or value < 0:
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
        if not isinstance(self.persistent_pain, bool):
            raise ScheduleError(
                _BAD_FLAG.format(name="persistent_pain", value=self.persistent_pain)
            )


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

    @property
    def baseline(self) -> VisitDefinition:
        """The enrolment visit: the first, at month 0."""
        return self.visits[0]

    @property
    def follow_up(self) -> tuple[VisitDefinition, ...]:
        """The visits after enrolment, in time order."""
        return self.visits[1:]

    @property
    def completion(self) -> VisitDefinition:
        """The last visit: a participant completes the study with it."""
        return self.visits[-1]

    @property
    def persistent_pain_codes(self) -> tuple[str, ...]:
        return tuple(visit.code for visit in self.visits if visit.persistent_pain)

    @property
    def tics_code(self) -> str | None:
        """The (last) visit that collects the TICS cognitive interview, if any."""
        codes = [visit.code for visit in self.visits if "tics" in visit.instruments]
        return codes[-1] if codes else None


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
            persistent_pain=True,
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
            persistent_pain=True,
        ),
    )
)

_REQUIRED_KEYS = ("code", "label", "months", "window_before_days", "window_after_days")
_OPTIONAL_KEYS = ("instruments", "extra_forms", "by_telephone", "persistent_pain")


def schedule_from_config(config: Mapping[str, Any]) -> Schedule:
    """Build a :class:`Schedule` from plain data, as read from JSON.

    Shape::

        {"visits": [{"code": "m1", "label": "1 month", "months": 1,
                     "window_before_days": 7, "window_after_days": 7,
                     "instruments": ["sf_mpq", "gad7"], "extra_forms": [],
                     "by_telephone": false, "persistent_pain": false}, ...]}

    ``instruments`` and ``extra_forms`` default to empty, ``by_telephone`` and
    ``persistent_pain`` to false.
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
            persistent_pain=raw.get("persistent_pain", False),
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
                "persistent_pain": visit.persistent_pain,
            }
            for visit in schedule.visits
        ]
    }
