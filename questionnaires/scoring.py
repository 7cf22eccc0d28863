"""Pure domain layer: scoring rules of the trial's questionnaires.

No Django, no database, no settings: every function takes a mapping of item keys
(the keys of shared/instruments.md, which are also the CSV columns) to answers and
returns a plain dict of scores, tagged with the ``scoring_version`` that produced it.
Unknown keys in ``answers`` are ignored, so one visit row holding every instrument's
items can be passed to each scorer. Scoring never mutates ``answers``.

Missing and invalid answers
    A missing answer is an absent key or ``None``; it makes every score that needs it
    ``None``. A present value of the wrong type or outside its range is not missing:
    it raises :class:`ScoringError`, whose message starts with the item key and states
    what is allowed. Types are strict on purpose, so that a bad import or form is caught
    here rather than silently scored:

    * rated items, ``psqi_2`` (minutes), ``sfmpq_vas_mm`` (whole mm) and TICS points
      accept ``int`` only: not ``bool``, not ``float`` (even ``2.0``), not strings;
    * ``psqi_1`` / ``psqi_3`` accept only ``"HH:MM"`` 24-hour strings, two digits each,
      ``"00:00"`` to ``"23:59"``;
    * ``psqi_4`` (hours of actual sleep) accepts a finite ``int``, ``float`` or
      ``Decimal`` from 0 to 24, or an ``"H:MM"`` / ``"HH:MM"`` string up to ``"24:00"``.
      Decimal hours are converted to whole minutes rounded half up (7.0125 h is
      420.75 min, scored as 421 min); a float is read as the decimal it prints as, so
      6.975 h is 418.5 min and rounds to 419 rather than down from its binary value.
    * ``psqi_5j_text`` accepts a ``str``; blank or whitespace-only text is missing.

The item-key tuples and range tables below are plain data so the forms and the
interchange files can be built from them.
"""

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "INSTRUMENT_KEYS",
    "INSTRUMENT_NAMES",
    "PERSISTENT_PAIN_VAS_MM",
    "GAD7_ITEMS",
    "GAD7_SCORED_ITEMS",
    "GAD7_SEVERITY_BANDS",
    "ITEM_RANGES",
    "PHQ9_ITEMS",
    "PHQ9_SCORED_ITEMS",
    "PHQ9_SEVERITY_BANDS",
    "PSQI_DISTURBANCE_ITEMS",
    "PSQI_ITEMS",
    "SCORING_VERSIONS",
    "SF_MPQ_AFFECTIVE_ITEMS",
    "SF_MPQ_DESCRIPTOR_ITEMS",
    "SF_MPQ_ITEMS",
    "SF_MPQ_SENSORY_ITEMS",
    "TICS_VERSIONS",
    "ScoringError",
    "psqi_sleep_minutes",
    "psqi_time_in_bed_minutes",
    "score_gad7",
    "score_phq9",
    "score_psqi",
    "score_sf_mpq",
    "score_tics",
]


class ScoringError(ValueError):
    """An answer is present but not a value the instrument allows.

    ``key`` is the offending item key (so a form can attach the error to its field);
    the message starts with it.
    """

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


# --- Instruments ----------------------------------------------------------------------
# The questionnaires this system scores, by key (the one list: the schedule, the
# models' choices, the forms and the exports all take it from here), with the name
# each is published under.
INSTRUMENT_NAMES: dict[str, str] = {
    "sf_mpq": "SF-MPQ",
    "gad7": "GAD-7",
    "phq9": "PHQ-9",
    "psqi": "PSQI",
    "tics": "TICS",
}
INSTRUMENT_KEYS: tuple[str, ...] = tuple(INSTRUMENT_NAMES)

# Persistent pain: VAS of at least 30 mm (3/10), shared/protocol.md; 30 counts.
PERSISTENT_PAIN_VAS_MM = 30

# --- Item keys, in instruments.md order ---------------------------------------------

SF_MPQ_SENSORY_ITEMS: tuple[str, ...] = (
    "sfmpq_throbbing",
    "sfmpq_shooting",
    "sfmpq_stabbing",
    "sfmpq_sharp",
    "sfmpq_cramping",
    "sfmpq_gnawing",
    "sfmpq_hot_burning",
    "sfmpq_aching",
    "sfmpq_heavy",
    "sfmpq_tender",
    "sfmpq_splitting",
)
SF_MPQ_AFFECTIVE_ITEMS: tuple[str, ...] = (
    "sfmpq_tiring_exhausting",
    "sfmpq_sickening",
    "sfmpq_fearful",
    "sfmpq_punishing_cruel",
)
SF_MPQ_DESCRIPTOR_ITEMS: tuple[str, ...] = SF_MPQ_SENSORY_ITEMS + SF_MPQ_AFFECTIVE_ITEMS
SF_MPQ_ITEMS: tuple[str, ...] = SF_MPQ_DESCRIPTOR_ITEMS + ("sfmpq_vas_mm", "sfmpq_ppi")

GAD7_SCORED_ITEMS: tuple[str, ...] = tuple(f"gad7_{n}" for n in range(1, 8))
GAD7_ITEMS: tuple[str, ...] = GAD7_SCORED_ITEMS + ("gad7_difficulty",)

PHQ9_SCORED_ITEMS: tuple[str, ...] = tuple(f"phq9_{n}" for n in range(1, 10))
PHQ9_ITEMS: tuple[str, ...] = PHQ9_SCORED_ITEMS + ("phq9_10",)

PSQI_DISTURBANCE_ITEMS: tuple[str, ...] = tuple(f"psqi_5{letter}" for letter in "bcdefghij")
PSQI_ITEMS: tuple[str, ...] = (
    ("psqi_1", "psqi_2", "psqi_3", "psqi_4", "psqi_5a")
    + PSQI_DISTURBANCE_ITEMS
    + ("psqi_5j_text", "psqi_6", "psqi_7", "psqi_8", "psqi_9")
)

# Points available per item; another TICS version (e.g. TICS-m) is another entry here
# or an ``items=`` mapping passed to score_tics, not a code change.
TICS_VERSIONS: dict[str, dict[str, int]] = {
    "tics41": {
        "tics_name": 2,
        "tics_date": 5,
        "tics_location": 5,
        "tics_count_back": 2,
        "tics_immediate_recall": 10,
        "tics_serial7": 5,
        "tics_naming": 2,
        "tics_president_vp": 4,
        "tics_repetition": 2,
        "tics_finger_tap": 2,
        "tics_opposites": 2,
    },
}

# Inclusive (low, high) of every integer item outside TICS; high None means no upper bound.
ITEM_RANGES: dict[str, tuple[int, int | None]] = {
    **dict.fromkeys(SF_MPQ_DESCRIPTOR_ITEMS, (0, 3)),
    "sfmpq_vas_mm": (0, 100),
    "sfmpq_ppi": (0, 5),
    **dict.fromkeys(GAD7_ITEMS, (0, 3)),
    **dict.fromkeys(PHQ9_ITEMS, (0, 3)),
    "psqi_2": (0, None),
    **dict.fromkeys(("psqi_5a",) + PSQI_DISTURBANCE_ITEMS, (0, 3)),
    **dict.fromkeys(("psqi_6", "psqi_7", "psqi_8", "psqi_9"), (0, 3)),
}

# A change of rules is a new version string; stored scores keep the one they were made with.
SCORING_VERSIONS: dict[str, str] = {
    "sf_mpq": "sfmpq-melzack1987-1",
    "gad7": "gad7-spitzer2006-1",
    "phq9": "phq9-kroenke2001-1",
    "psqi": "psqi-pitt-2005",
    "tics41": "tics41-brandt1988-1",
}

GAD7_SEVERITY_BANDS: tuple[tuple[int, str], ...] = (
    (4, "minimal"),
    (9, "mild"),
    (14, "moderate"),
    (21, "severe"),
)
PHQ9_SEVERITY_BANDS: tuple[tuple[int, str], ...] = (
    (4, "none_minimal"),
    (9, "mild"),
    (14, "moderate"),
    (19, "moderately_severe"),
    (27, "severe"),
)

_MINUTES_PER_DAY = 24 * 60
# ASCII digits only: \d would also match other scripts' digits.
_CLOCK_RE = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_HOURS_MINUTES_RE = re.compile(r"([0-9]{1,2}):([0-5][0-9])")


# --- Reading answers ------------------------------------------------------------------


def _describe_range(low: int, high: int | None) -> str:
    if high is None:
        return f"a whole number >= {low}"
    return f"a whole number from {low} to {high}"


def _int_item(answers: Mapping[str, Any], key: str, low: int, high: int | None) -> int | None:
    value = answers.get(key)
    if value is None:
        return None
    # bool is an int subclass; True as "1" would hide a form bug.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScoringError(key, f"must be {_describe_range(low, high)}, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ScoringError(key, f"must be {_describe_range(low, high)}, got {value}")
    return int(value)


def _ranged_item(answers: Mapping[str, Any], key: str) -> int | None:
    low, high = ITEM_RANGES[key]
    return _int_item(answers, key, low, high)


def _all_or_none(values: Iterable[int | None]) -> list[int] | None:
    present = list(values)
    if any(value is None for value in present):
        return None
    return [value for value in present if value is not None]


def _band(total: int | None, bands: tuple[tuple[int, str], ...]) -> str | None:
    if total is None:
        return None
    for upper, label in bands:
        if total <= upper:
            return label
    # Unreachable (every total is range-checked first): no cover, no mutate.
    raise AssertionError(f"total {total} above the last band")  # pragma: no cover, no mutate


def _div_half_up(numerator: int, denominator: int) -> int:
    # Exact integer rounding half up for non-negative values: round() rounds half to even.
    return (2 * numerator + denominator) // (2 * denominator)


# --- SF-MPQ ---------------------------------------------------------------------------


def score_sf_mpq(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Score the short-form McGill Pain Questionnaire (Melzack 1987).

    ``total`` is the trial's composite pri_total + ppi + vas_mm / 10, always a float;
    ``persistent_pain`` is vas_mm >= PERSISTENT_PAIN_VAS_MM (30). A subscale with any
    missing descriptor is None, and so is every sum using it; ``vas_mm`` and ``ppi``
    are returned as given.
    """
    sensory = _all_or_none(_ranged_item(answers, key) for key in SF_MPQ_SENSORY_ITEMS)
    affective = _all_or_none(_ranged_item(answers, key) for key in SF_MPQ_AFFECTIVE_ITEMS)
    vas_mm = _ranged_item(answers, "sfmpq_vas_mm")
    ppi = _ranged_item(answers, "sfmpq_ppi")

    pri_sensory = sum(sensory) if sensory is not None else None
    pri_affective = sum(affective) if affective is not None else None
    pri_total = (
        pri_sensory + pri_affective
        if pri_sensory is not None and pri_affective is not None
        else None
    )
    total = None
    if pri_total is not None and ppi is not None and vas_mm is not None:
        # One division of an exact integer gives the nearest float (5.9, not 5.8999...).
        total = (10 * (pri_total + ppi) + vas_mm) / 10
    return {
        "pri_sensory": pri_sensory,
        "pri_affective": pri_affective,
        "pri_total": pri_total,
        "vas_mm": vas_mm,
        "ppi": ppi,
        "total": total,
        "persistent_pain": vas_mm >= PERSISTENT_PAIN_VAS_MM if vas_mm is not None else None,
        "scoring_version": SCORING_VERSIONS["sf_mpq"],
    }


# --- GAD-7 ----------------------------------------------------------------------------


def score_gad7(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Score the GAD-7 (Spitzer 2006); any missing item leaves total and severity None.

    ``gad7_difficulty`` is validated (0-3) but not scored.
    """
    items = _all_or_none(_ranged_item(answers, key) for key in GAD7_SCORED_ITEMS)
    _ranged_item(answers, "gad7_difficulty")
    total = sum(items) if items is not None else None
    return {
        "total": total,
        "severity": _band(total, GAD7_SEVERITY_BANDS),
        "scoring_version": SCORING_VERSIONS["gad7"],
    }


# --- PHQ-9 ----------------------------------------------------------------------------


def score_phq9(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Score the PHQ-9 (Kroenke 2001).

    With 1 or 2 of items 1-9 missing the total is prorated (sum * 9 / answered, rounded
    half up in integer arithmetic) and ``prorated`` is True; severity then comes from the
    prorated total. With more than 2 missing, total and severity are None. ``phq9_10``
    is validated (0-3) but not scored. ``item9_alert`` is True when phq9_9 >= 1 or when
    phq9_9 is missing, whatever else is missing: an unanswered suicide item must reach a
    clinician too.
    """
    items = [_ranged_item(answers, key) for key in PHQ9_SCORED_ITEMS]
    _ranged_item(answers, "phq9_10")
    answered = [value for value in items if value is not None]
    missing = len(items) - len(answered)

    total: int | None
    if missing == 0:
        total, prorated = sum(answered), False
    elif missing <= 2:
        total, prorated = _div_half_up(sum(answered) * len(items), len(answered)), True
    else:
        total, prorated = None, False

    item9 = items[8]
    return {
        "total": total,
        "severity": _band(total, PHQ9_SEVERITY_BANDS),
        "prorated": prorated,
        "item9_alert": item9 is None or item9 >= 1,
        "scoring_version": SCORING_VERSIONS["phq9"],
    }


# --- PSQI -----------------------------------------------------------------------------


def _clock_minutes(answers: Mapping[str, Any], key: str) -> int | None:
    value = answers.get(key)
    if value is None:
        return None
    match = _CLOCK_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ScoringError(
            key, f'must be a 24-hour time "HH:MM" from 00:00 to 23:59, got {value!r}'
        )
    return int(match[1]) * 60 + int(match[2])


def _hours_to_minutes(value: object) -> int | None:
    """Whole minutes for an hours answer, or None when the value is not acceptable."""
    if isinstance(value, str):
        match = _HOURS_MINUTES_RE.fullmatch(value)
        if match is None:
            return None
        minutes = int(match[1]) * 60 + int(match[2])
        return minutes if minutes <= _MINUTES_PER_DAY else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        hours = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        # repr() is the decimal the person typed (6.975), not the binary value below it.
        hours = Decimal(repr(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            return None
        hours = value
    else:
        return None
    if hours < 0 or hours > 24:
        return None
    return int((hours * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def psqi_sleep_minutes(answers: Mapping[str, Any]) -> int | None:
    """Hours of actual sleep (psqi_4) as whole minutes, None when missing."""
    value = answers.get("psqi_4")
    if value is None:
        return None
    minutes = _hours_to_minutes(value)
    if minutes is None:
        raise ScoringError(
            "psqi_4",
            f'must be hours from 0 to 24 as a number or "H:MM" (up to 24:00), got {value!r}',
        )
    return minutes


def psqi_time_in_bed_minutes(answers: Mapping[str, Any]) -> int | None:
    """Minutes from bed time (psqi_1) to getting-up time (psqi_3), wrapped past midnight.

    None when either time is missing or when they are equal (time in bed undefined).
    The forms use this to raise queries (under 3 h, over 16 h, equal times).
    """
    bed = _clock_minutes(answers, "psqi_1")
    getting_up = _clock_minutes(answers, "psqi_3")
    if bed is None or getting_up is None:
        return None
    # Modulo, never abs(): 23:00 -> 06:00 is 7 h, not 17 h.
    minutes = (getting_up - bed) % _MINUTES_PER_DAY
    return minutes or None


def _psqi_sum_band(total: int | None) -> int | None:
    # c2 and c7 share the Pittsburgh sheet's 0 / 1-2 / 3-4 / 5-6 bands.
    if total is None:
        return None
    if total == 0:
        return 0
    if total <= 2:
        return 1
    if total <= 4:
        return 2
    return 3


def _psqi_latency(answers: Mapping[str, Any]) -> int | None:
    latency_min = _ranged_item(answers, "psqi_2")
    item_5a = _ranged_item(answers, "psqi_5a")
    if latency_min is None or item_5a is None:
        return None
    if latency_min <= 15:
        latency_band = 0
    elif latency_min <= 30:
        latency_band = 1
    elif latency_min <= 60:
        latency_band = 2
    else:
        latency_band = 3
    return _psqi_sum_band(latency_band + item_5a)


def _psqi_duration(sleep_min: int | None) -> int | None:
    # Minutes, not float hours, so 7 h exactly is 420 and scores 0.
    if sleep_min is None:
        return None
    if sleep_min >= 7 * 60:
        return 0
    if sleep_min >= 6 * 60:
        return 1
    if sleep_min >= 5 * 60:
        return 2
    return 3


def _psqi_efficiency(sleep_min: int | None, bed_min: int | None) -> int | None:
    if sleep_min is None or bed_min is None:
        return None
    # Integer comparisons: no float gap at 84.999... or between bands. Over 100 % scores 0.
    if sleep_min * 100 >= 85 * bed_min:
        return 0
    if sleep_min * 100 >= 75 * bed_min:
        return 1
    if sleep_min * 100 >= 65 * bed_min:
        return 2
    return 3


def _psqi_disturbance(answers: Mapping[str, Any]) -> int | None:
    ratings = {key: _ranged_item(answers, key) for key in PSQI_DISTURBANCE_ITEMS}
    other_text = answers.get("psqi_5j_text")
    if other_text is not None and not isinstance(other_text, str):
        raise ScoringError("psqi_5j_text", f"must be text, got {other_text!r}")
    # "Other reason" only counts when both the reason and how often are given.
    if ratings["psqi_5j"] is None or other_text is None or not other_text.strip():
        ratings["psqi_5j"] = 0
    present = _all_or_none(ratings.values())
    if present is None:
        return None
    total = sum(present)
    if total == 0:
        return 0
    if total <= 9:
        return 1
    if total <= 18:
        return 2
    return 3


def score_psqi(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Score the PSQI (Buysse 1989) with the University of Pittsburgh sheet's boundaries.

    Components c1-c7 are 0-3 or None when any of their inputs is missing; ``global`` is
    their sum when all seven are present. ``sleep_efficiency`` is the raw percentage
    (float, may exceed 100) or None; bed time equal to getting-up time leaves it and c4
    None. All comparisons are done in whole minutes.
    """
    sleep_min = psqi_sleep_minutes(answers)
    bed_min = psqi_time_in_bed_minutes(answers)
    quality = _ranged_item(answers, "psqi_6")
    medication = _ranged_item(answers, "psqi_7")
    staying_awake = _ranged_item(answers, "psqi_8")
    enthusiasm = _ranged_item(answers, "psqi_9")

    components = {
        "c1": quality,
        "c2": _psqi_latency(answers),
        "c3": _psqi_duration(sleep_min),
        "c4": _psqi_efficiency(sleep_min, bed_min),
        "c5": _psqi_disturbance(answers),
        "c6": medication,
        "c7": _psqi_sum_band(
            staying_awake + enthusiasm
            if staying_awake is not None and enthusiasm is not None
            else None
        ),
    }
    present = _all_or_none(components.values())
    global_score = sum(present) if present is not None else None
    return {
        **components,
        "global": global_score,
        "sleep_efficiency": (
            sleep_min * 100 / bed_min if sleep_min is not None and bed_min is not None else None
        ),
        "poor_sleeper": global_score > 5 if global_score is not None else None,
        "scoring_version": SCORING_VERSIONS["psqi"],
    }


# --- TICS -----------------------------------------------------------------------------


def _tics_scoring_version(version: str, items: Mapping[str, int]) -> str:
    registered = TICS_VERSIONS.get(version)
    if registered is not None and dict(items) == registered and version in SCORING_VERSIONS:
        return SCORING_VERSIONS[version]
    # Unregistered maxima still get a stable version that changes whenever they change.
    canonical = json.dumps(sorted(items.items()), separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:10]
    return f"{version}-items-{digest}"


def score_tics(
    answers: Mapping[str, Any],
    version: str = "tics41",
    *,
    items: Mapping[str, int] | None = None,
    scoring_version: str | None = None,
) -> dict[str, Any]:
    """Score the Telephone Interview for Cognitive Status (Brandt 1988).

    ``version`` names an entry of TICS_VERSIONS (default the trial's TICS-41). To score
    another version without a code change, pass its item maxima as ``items`` (then
    ``version`` is only its label) and, ideally, its ``scoring_version``; without one, a
    version derived from the maxima is recorded. Each item is 0..max; any missing item
    leaves total None.
    """
    if items is None:
        if version not in TICS_VERSIONS:
            known = ", ".join(sorted(TICS_VERSIONS))
            raise ScoringError("version", f"unknown TICS version {version!r} (known: {known})")
        items = TICS_VERSIONS[version]
    for key, maximum in items.items():
        if isinstance(maximum, bool) or not isinstance(maximum, int) or maximum < 0:
            raise ScoringError(key, f"maximum points must be a whole number >= 0, got {maximum!r}")

    points = _all_or_none(_int_item(answers, key, 0, maximum) for key, maximum in items.items())
    return {
        "total": sum(points) if points is not None else None,
        "version": version,
        "scoring_version": scoring_version or _tics_scoring_version(version, items),
    }
