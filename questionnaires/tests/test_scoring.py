"""Tables of the scoring rules in shared/instruments.md, one row per published edge."""

import copy
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest

from questionnaires.scoring import (
    GAD7_ITEMS,
    PHQ9_ITEMS,
    PSQI_ITEMS,
    SCORING_VERSIONS,
    SF_MPQ_AFFECTIVE_ITEMS,
    SF_MPQ_ITEMS,
    SF_MPQ_SENSORY_ITEMS,
    TICS_VERSIONS,
    ScoringError,
    psqi_sleep_minutes,
    psqi_time_in_bed_minutes,
    score_gad7,
    score_phq9,
    score_psqi,
    score_sf_mpq,
    score_tics,
)

DISTURBANCE = [f"psqi_5{letter}" for letter in "bcdefghij"]
GAD7_SCORED = [f"gad7_{n}" for n in range(1, 8)]
PHQ9_SCORED = [f"phq9_{n}" for n in range(1, 10)]
TICS41 = TICS_VERSIONS["tics41"]


def spread(keys: list[str], total: int, maximum: int = 3) -> dict[str, int]:
    """Answers for ``keys`` (each 0..maximum) summing to ``total``."""
    values = {}
    for key in keys:
        values[key] = min(maximum, total)
        total -= values[key]
    assert total == 0, "total too large for these keys"
    return values


def with_changes(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Copy of ``base`` with ``changes``; a change to the marker DROP removes the key."""
    answers = {**base, **changes}
    return {key: value for key, value in answers.items() if value is not DROP}


DROP = object()


def assert_scoring_error(scorer: Any, answers: dict[str, Any], key: str, **kwargs: Any) -> None:
    with pytest.raises(ScoringError) as caught:
        scorer(answers, **kwargs)
    assert key in str(caught.value)
    assert caught.value.key == key
    assert isinstance(caught.value, ValueError)


# --- Public data ----------------------------------------------------------------------


def test_item_keys_in_instruments_order() -> None:
    assert SF_MPQ_SENSORY_ITEMS == (
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
    assert SF_MPQ_AFFECTIVE_ITEMS == (
        "sfmpq_tiring_exhausting",
        "sfmpq_sickening",
        "sfmpq_fearful",
        "sfmpq_punishing_cruel",
    )
    assert SF_MPQ_ITEMS == (
        SF_MPQ_SENSORY_ITEMS + SF_MPQ_AFFECTIVE_ITEMS + ("sfmpq_vas_mm", "sfmpq_ppi")
    )
    assert list(GAD7_ITEMS) == [*GAD7_SCORED, "gad7_difficulty"]
    assert list(PHQ9_ITEMS) == [*PHQ9_SCORED, "phq9_10"]
    assert list(PSQI_ITEMS) == [
        "psqi_1",
        "psqi_2",
        "psqi_3",
        "psqi_4",
        "psqi_5a",
        *DISTURBANCE,
        "psqi_5j_text",
        "psqi_6",
        "psqi_7",
        "psqi_8",
        "psqi_9",
    ]


def test_tics41_maxima_in_table_order() -> None:
    assert list(TICS41.items()) == [
        ("tics_name", 2),
        ("tics_date", 5),
        ("tics_location", 5),
        ("tics_count_back", 2),
        ("tics_immediate_recall", 10),
        ("tics_serial7", 5),
        ("tics_naming", 2),
        ("tics_president_vp", 4),
        ("tics_repetition", 2),
        ("tics_finger_tap", 2),
        ("tics_opposites", 2),
    ]
    assert sum(TICS41.values()) == 41


def test_scoring_versions() -> None:
    assert SCORING_VERSIONS == {
        "sf_mpq": "sfmpq-melzack1987-1",
        "gad7": "gad7-spitzer2006-1",
        "phq9": "phq9-kroenke2001-1",
        "psqi": "psqi-pitt-2005",
        "tics41": "tics41-brandt1988-1",
    }


def test_scoring_error_is_a_value_error_naming_the_key() -> None:
    err = ScoringError("gad7_1", "must be a whole number from 0 to 3, got 4")
    assert isinstance(err, ValueError)
    assert err.key == "gad7_1"
    assert str(err).startswith("gad7_1: ")


# --- SF-MPQ ---------------------------------------------------------------------------


def sf_mpq(sensory: int = 0, affective: int = 0, vas_mm: Any = 0, ppi: Any = 0) -> dict:
    return {
        **spread(list(SF_MPQ_SENSORY_ITEMS), sensory),
        **spread(list(SF_MPQ_AFFECTIVE_ITEMS), affective),
        "sfmpq_vas_mm": vas_mm,
        "sfmpq_ppi": ppi,
    }


def test_sf_mpq_return_keys() -> None:
    assert set(score_sf_mpq(sf_mpq())) == {
        "pri_sensory",
        "pri_affective",
        "pri_total",
        "vas_mm",
        "ppi",
        "total",
        "persistent_pain",
        "scoring_version",
    }
    assert score_sf_mpq(sf_mpq())["scoring_version"] == "sfmpq-melzack1987-1"


@pytest.mark.parametrize(
    ("sensory", "affective", "vas_mm", "ppi", "pri_total", "total"),
    [
        (0, 0, 0, 0, 0, 0.0),
        (33, 12, 100, 5, 45, 60.0),
        (11, 8, 45, 2, 19, 25.5),
        (3, 0, 29, 0, 3, 5.9),
        (0, 4, 1, 1, 4, 5.1),
        (7, 3, 73, 4, 10, 21.3),
    ],
)
def test_sf_mpq_totals(
    sensory: int, affective: int, vas_mm: int, ppi: int, pri_total: int, total: float
) -> None:
    scores = score_sf_mpq(sf_mpq(sensory, affective, vas_mm, ppi))
    assert scores["pri_sensory"] == sensory
    assert scores["pri_affective"] == affective
    assert scores["pri_total"] == pri_total
    assert scores["vas_mm"] == vas_mm
    assert scores["ppi"] == ppi
    assert scores["total"] == total
    assert isinstance(scores["total"], float)


@pytest.mark.parametrize(
    ("vas_mm", "persistent_pain"),
    [(0, False), (29, False), (30, True), (31, True), (100, True)],
)
def test_sf_mpq_persistent_pain_is_vas_at_least_30_mm(vas_mm: int, persistent_pain: bool) -> None:
    assert score_sf_mpq(sf_mpq(vas_mm=vas_mm))["persistent_pain"] is persistent_pain


@pytest.mark.parametrize("key", SF_MPQ_SENSORY_ITEMS)
@pytest.mark.parametrize("missing", [DROP, None])
def test_sf_mpq_missing_sensory_item(key: str, missing: Any) -> None:
    scores = score_sf_mpq(with_changes(sf_mpq(5, 3, 40, 2), **{key: missing}))
    assert scores["pri_sensory"] is None
    assert scores["pri_total"] is None
    assert scores["total"] is None
    assert scores["pri_affective"] == 3
    assert scores["persistent_pain"] is True


@pytest.mark.parametrize("key", SF_MPQ_AFFECTIVE_ITEMS)
def test_sf_mpq_missing_affective_item(key: str) -> None:
    scores = score_sf_mpq(with_changes(sf_mpq(5, 3, 40, 2), **{key: None}))
    assert scores["pri_affective"] is None
    assert scores["pri_total"] is None
    assert scores["total"] is None
    assert scores["pri_sensory"] == 5


def test_sf_mpq_missing_vas() -> None:
    scores = score_sf_mpq(with_changes(sf_mpq(5, 3, 40, 2), sfmpq_vas_mm=DROP))
    assert scores["vas_mm"] is None
    assert scores["persistent_pain"] is None
    assert scores["total"] is None
    assert scores["pri_total"] == 8
    assert scores["ppi"] == 2


def test_sf_mpq_missing_ppi() -> None:
    scores = score_sf_mpq(with_changes(sf_mpq(5, 3, 40, 2), sfmpq_ppi=None))
    assert scores["ppi"] is None
    assert scores["total"] is None
    assert scores["pri_total"] == 8
    assert scores["persistent_pain"] is True


def test_sf_mpq_nothing_answered() -> None:
    scores = score_sf_mpq({})
    del scores["scoring_version"]
    assert set(scores.values()) == {None}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sfmpq_throbbing", 4),
        ("sfmpq_splitting", -1),
        ("sfmpq_punishing_cruel", 4),
        ("sfmpq_sickening", True),
        ("sfmpq_aching", 2.0),
        ("sfmpq_aching", "2"),
        ("sfmpq_vas_mm", 101),
        ("sfmpq_vas_mm", -1),
        ("sfmpq_vas_mm", 29.5),
        ("sfmpq_vas_mm", "30"),
        ("sfmpq_ppi", 6),
        ("sfmpq_ppi", -1),
        ("sfmpq_ppi", False),
    ],
)
def test_sf_mpq_invalid_value_names_key(key: str, value: Any) -> None:
    assert_scoring_error(score_sf_mpq, with_changes(sf_mpq(), **{key: value}), key)


# --- GAD-7 ----------------------------------------------------------------------------


def test_gad7_return_keys() -> None:
    scores = score_gad7(spread(GAD7_SCORED, 0))
    assert set(scores) == {"total", "severity", "scoring_version"}
    assert scores["scoring_version"] == "gad7-spitzer2006-1"


@pytest.mark.parametrize(
    ("total", "severity"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_severity_bands(total: int, severity: str) -> None:
    assert score_gad7(spread(GAD7_SCORED, total)) == {
        "total": total,
        "severity": severity,
        "scoring_version": "gad7-spitzer2006-1",
    }


@pytest.mark.parametrize("key", GAD7_SCORED)
@pytest.mark.parametrize("missing", [DROP, None])
def test_gad7_any_missing_item(key: str, missing: Any) -> None:
    scores = score_gad7(with_changes(spread(GAD7_SCORED, 12), **{key: missing}))
    assert scores["total"] is None
    assert scores["severity"] is None


@pytest.mark.parametrize("difficulty", [None, 0, 3])
def test_gad7_difficulty_is_not_scored(difficulty: int | None) -> None:
    answers = {**spread(GAD7_SCORED, 7), "gad7_difficulty": difficulty}
    assert score_gad7(answers)["total"] == 7


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("gad7_1", 4),
        ("gad7_7", -1),
        ("gad7_3", True),
        ("gad7_3", 1.0),
        ("gad7_3", "1"),
        ("gad7_difficulty", 4),
        ("gad7_difficulty", "very"),
    ],
)
def test_gad7_invalid_value_names_key(key: str, value: Any) -> None:
    assert_scoring_error(score_gad7, {**spread(GAD7_SCORED, 3), key: value}, key)


# --- PHQ-9 ----------------------------------------------------------------------------


def phq9(values: list[int | None]) -> dict[str, int | None]:
    return dict(zip(PHQ9_SCORED, values, strict=True))


def test_phq9_return_keys() -> None:
    scores = score_phq9(spread(PHQ9_SCORED, 0))
    assert set(scores) == {"total", "severity", "prorated", "item9_alert", "scoring_version"}
    assert scores["scoring_version"] == "phq9-kroenke2001-1"


@pytest.mark.parametrize(
    ("total", "severity"),
    [
        (0, "none_minimal"),
        (4, "none_minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_severity_bands(total: int, severity: str) -> None:
    scores = score_phq9(spread(PHQ9_SCORED, total))
    assert scores["total"] == total
    assert scores["severity"] == severity
    assert scores["prorated"] is False


@pytest.mark.parametrize(
    ("values", "total", "severity"),
    [
        # 8 answered: sum * 9 / 8 ends in exactly .5 when sum is 4, 12, 20; half up, not even.
        ([1, 1, 1, 1, 0, 0, 0, 0, None], 5, "mild"),  # 4.5 -> 5 (round() gives 4)
        ([3, 3, 3, 3, 0, 0, 0, 0, None], 14, "moderate"),  # 13.5 -> 14
        ([3, 3, 3, 3, 3, 3, 2, None, 0], 23, "severe"),  # 22.5 -> 23 (round() gives 22)
        ([1, 1, 1, 0, 0, 0, 0, 0, None], 3, "none_minimal"),  # 3.375 -> 3
        ([1, 1, 1, 1, 1, 0, 0, None, 0], 6, "mild"),  # 5.625 -> 6
        ([3, 3, 3, 3, 3, 3, 3, 3, None], 27, "severe"),  # 27
        ([0, 0, 0, 0, 0, 0, 0, 0, None], 0, "none_minimal"),
        # 7 answered
        ([1, 1, 1, 1, 1, 1, 1, None, None], 9, "mild"),  # 9
        ([2, 2, 2, 2, 1, 1, None, None, 0], 13, "moderate"),  # 12.857 -> 13
        ([1, 0, 0, 0, 0, 0, None, None, 0], 1, "none_minimal"),  # 1.286 -> 1
        ([None, 3, 3, 3, 3, 3, 3, 3, None], 27, "severe"),  # 27
        ([None, 2, 2, 2, 2, 2, 1, 0, None], 14, "moderate"),  # 14.143 -> 14
    ],
)
def test_phq9_prorates_one_or_two_missing_half_up(
    values: list[int | None], total: int, severity: str
) -> None:
    scores = score_phq9(phq9(values))
    assert scores["total"] == total
    assert scores["severity"] == severity
    assert scores["prorated"] is True


def test_phq9_prorated_severity_comes_from_prorated_total() -> None:
    # Unprorated the four points would be none_minimal.
    assert score_phq9(phq9([1, 1, 1, 1, 0, 0, 0, 0, None]))["severity"] == "mild"


@pytest.mark.parametrize(
    "values",
    [
        [None, None, None, 3, 3, 3, 3, 3, 3],
        [1, 1, 1, 1, 1, 1, None, None, None],
        [None] * 9,
    ],
)
def test_phq9_more_than_two_missing_gives_no_total(values: list[int | None]) -> None:
    scores = score_phq9(phq9(values))
    assert scores["total"] is None
    assert scores["severity"] is None
    assert scores["prorated"] is False


def test_phq9_absent_keys_count_as_missing() -> None:
    answers = {key: 1 for key in PHQ9_SCORED[:7]}
    scores = score_phq9(answers)
    assert scores["total"] == 9
    assert scores["prorated"] is True


@pytest.mark.parametrize(
    ("answers", "alert"),
    [
        (phq9([0] * 9), False),
        (phq9([3] * 8 + [0]), False),
        (phq9([0] * 8 + [1]), True),
        (phq9([0] * 8 + [2]), True),
        (phq9([0] * 8 + [3]), True),
        (phq9([0] * 8 + [None]), True),
        ({key: 0 for key in PHQ9_SCORED[:8]}, True),
        ({}, True),
        (phq9([None] * 9), True),
        (phq9([None] * 8 + [0]), False),
        (phq9([None] * 8 + [1]), True),
    ],
)
def test_phq9_item9_alert(answers: dict[str, Any], alert: bool) -> None:
    assert score_phq9(answers)["item9_alert"] is alert


@pytest.mark.parametrize("item10", [None, 0, 3])
def test_phq9_item10_is_not_scored(item10: int | None) -> None:
    answers = {**spread(PHQ9_SCORED, 11), "phq9_10": item10}
    assert score_phq9(answers)["total"] == 11


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("phq9_1", 4),
        ("phq9_9", -1),
        ("phq9_9", 4),
        ("phq9_9", True),
        ("phq9_5", 2.5),
        ("phq9_5", 2.0),
        ("phq9_5", "2"),
        ("phq9_10", 4),
        ("phq9_10", -1),
    ],
)
def test_phq9_invalid_value_names_key(key: str, value: Any) -> None:
    assert_scoring_error(score_phq9, {**spread(PHQ9_SCORED, 3), key: value}, key)


# --- PSQI -----------------------------------------------------------------------------

# Worked example 1 of instruments.md: every component 0.
PSQI_EXAMPLE_1: dict[str, Any] = {
    "psqi_1": "22:30",
    "psqi_2": 5,
    "psqi_3": "05:50",
    "psqi_4": 7.0,
    "psqi_5a": 0,
    **dict.fromkeys(DISTURBANCE, 0),
    "psqi_6": 0,
    "psqi_7": 0,
    "psqi_8": 0,
    "psqi_9": 0,
}
PSQI_EXAMPLE_2: dict[str, Any] = {
    "psqi_1": "22:00",
    "psqi_2": 20,
    "psqi_3": "07:00",
    "psqi_4": 6,
    "psqi_5a": 2,
    **dict.fromkeys(DISTURBANCE, 1),
    "psqi_6": 1,
    "psqi_7": 1,
    "psqi_8": 1,
    "psqi_9": 2,
}
COMPONENTS = ["c1", "c2", "c3", "c4", "c5", "c6", "c7"]


def psqi(**changes: Any) -> dict[str, Any]:
    return with_changes(PSQI_EXAMPLE_1, **changes)


def components(scores: dict[str, Any]) -> list[int | None]:
    return [scores[name] for name in COMPONENTS]


def test_psqi_return_keys() -> None:
    assert set(score_psqi(psqi())) == {
        *COMPONENTS,
        "global",
        "sleep_efficiency",
        "poor_sleeper",
        "scoring_version",
    }
    assert score_psqi(psqi())["scoring_version"] == "psqi-pitt-2005"


def test_psqi_worked_example_1_all_zero() -> None:
    scores = score_psqi(PSQI_EXAMPLE_1)
    assert components(scores) == [0] * 7
    assert scores["global"] == 0
    assert scores["poor_sleeper"] is False
    assert scores["sleep_efficiency"] == pytest.approx(420 * 100 / 440)


@pytest.mark.parametrize("text", [None, "pain"])
def test_psqi_worked_example_2_global_10(text: str | None) -> None:
    scores = score_psqi({**PSQI_EXAMPLE_2, "psqi_5j_text": text})
    # c2: 20 min -> 1, + 5a 2 = 3 -> 2; c3: 6 h -> 1; c4: 360 / 540 = 66.7 % -> 2;
    # c5: 8 or 9 -> 1; c7: 1 + 2 = 3 -> 2.
    assert components(scores) == [1, 2, 1, 2, 1, 1, 2]
    assert scores["global"] == 10
    assert scores["poor_sleeper"] is True
    assert scores["sleep_efficiency"] == pytest.approx(200 / 3)


def test_psqi_worked_example_3_fifteen_minutes_scores_0() -> None:
    assert score_psqi(psqi(psqi_2=15, psqi_5a=0))["c2"] == 0


@pytest.mark.parametrize(
    ("latency", "item_5a", "c2"),
    [
        (0, 0, 0),
        (15, 0, 0),
        (16, 0, 1),
        (30, 0, 1),
        (31, 0, 1),
        (60, 0, 1),
        (61, 0, 2),
        (600, 0, 2),
        (15, 1, 1),
        (15, 2, 1),
        (15, 3, 2),
        (16, 2, 2),
        (16, 3, 2),
        (31, 2, 2),
        (30, 3, 2),
        (31, 3, 3),
        (61, 2, 3),
        (61, 3, 3),
    ],
)
def test_psqi_c2_latency_bands(latency: int, item_5a: int, c2: int) -> None:
    # Latency bands <=15/16-30/31-60/>60 -> 0-3, plus 5a; sums 0/1-2/3-4/5-6 -> 0-3.
    assert score_psqi(psqi(psqi_2=latency, psqi_5a=item_5a))["c2"] == c2


@pytest.mark.parametrize(
    ("hours", "c3"),
    [
        (24, 0),
        (8.5, 0),
        (7.0, 0),
        (7, 0),
        (Decimal("7.00"), 0),
        ("7:00", 0),
        ("07:00", 0),
        ("6:59", 1),
        (6.99, 1),  # 419.4 min -> 419
        (Decimal("6.9917"), 0),  # 419.502 min -> 420
        (6, 1),
        ("6:00", 1),
        ("5:59", 2),
        (5, 2),
        ("4:59", 3),
        (4.5, 3),
        (0, 3),
        ("0:00", 3),
    ],
)
def test_psqi_c3_duration_bands(hours: Any, c3: int) -> None:
    assert score_psqi(psqi(psqi_4=hours))["c3"] == c3


@pytest.mark.parametrize(
    ("hours", "minutes"),
    [
        (0, 0),
        (7, 420),
        (7.0, 420),
        (7.5, 450),
        (Decimal("7.25"), 435),
        (7.0125, 421),  # 420.75 -> 421
        (Decimal("0.025"), 2),  # 1.5 min exactly -> 2 (half up, round() gives 2 too)
        (Decimal("0.075"), 5),  # 4.5 min exactly -> 5 (round() gives 4)
        (6.975, 419),  # 418.5 min as typed; the binary float is just below .5
        (6.9916666, 419),  # 419.499996 -> 419
        (24, 1440),
        (24.0, 1440),
        ("0:00", 0),
        ("7:05", 425),
        ("07:05", 425),
        ("10:30", 630),
        ("24:00", 1440),
        (None, None),
    ],
)
def test_psqi_sleep_minutes(hours: Any, minutes: int | None) -> None:
    assert psqi_sleep_minutes({"psqi_4": hours}) == minutes


@pytest.mark.parametrize(
    ("bed", "getting_up", "minutes"),
    [
        ("22:30", "05:50", 440),
        ("23:00", "06:00", 420),  # abs() would give 17 h
        ("01:00", "09:00", 480),
        ("00:00", "00:01", 1),
        ("23:59", "00:00", 1),
        ("21:00", "07:00", 600),
        ("06:00", "05:59", 1439),
        ("00:00", "23:59", 1439),
        ("12:00", "12:00", None),  # undefined, not 0 and not 24 h
        ("00:00", "00:00", None),
        (None, "07:00", None),
        ("22:00", None, None),
    ],
)
def test_psqi_time_in_bed_wraps_past_midnight(
    bed: str | None, getting_up: str | None, minutes: int | None
) -> None:
    assert psqi_time_in_bed_minutes({"psqi_1": bed, "psqi_3": getting_up}) == minutes


@pytest.mark.parametrize(
    ("bed", "getting_up", "sleep", "c4", "efficiency"),
    [
        # 8 h in bed
        ("22:00", "06:00", "8:00", 0, 100.0),
        ("22:00", "06:00", "6:48", 0, 85.0),  # 408 min: 85 % exactly
        ("22:00", "06:00", 6.8, 0, 85.0),  # same in decimal hours
        ("22:00", "06:00", "6:47", 1, 84.791666),
        ("22:00", "06:00", "6:00", 1, 75.0),
        ("22:00", "06:00", "5:59", 2, 74.791666),
        ("22:00", "06:00", "5:12", 2, 65.0),
        ("22:00", "06:00", "5:11", 3, 64.791666),
        ("22:00", "06:00", 0, 3, 0.0),
        # 84.99 %: 1223 / 1439 min
        ("00:00", "23:59", "20:23", 1, 84.989576),
        ("00:00", "23:59", "20:24", 0, 85.059068),
        # 84.5 % must not fall into a gap between bands
        ("22:00", "01:20", "2:49", 1, 84.5),
        # 425 / 500 min is 85 % exactly, but 7.0833 h / 8.3333 h is 84.99999... in floats
        ("22:00", "06:20", "7:05", 0, 85.0),
        ("22:00", "06:20", 7.083333333333333, 0, 85.0),
        ("23:00", "04:40", "4:49", 0, 85.0),  # 289 / 340, the same float trap
        # midnight crossing
        ("23:00", "06:00", 7, 0, 100.0),
        ("01:00", "09:00", 6, 1, 75.0),
        ("00:00", "00:01", 0, 3, 0.0),
        # efficiency above 100 % scores 0
        ("23:00", "06:00", 8, 0, 114.285714),
        ("00:00", "00:01", "0:02", 0, 200.0),
    ],
)
def test_psqi_c4_efficiency_bands(
    bed: str, getting_up: str, sleep: Any, c4: int, efficiency: float
) -> None:
    scores = score_psqi(psqi(psqi_1=bed, psqi_3=getting_up, psqi_4=sleep))
    assert scores["c4"] == c4
    assert scores["sleep_efficiency"] == pytest.approx(efficiency, abs=1e-5)
    assert isinstance(scores["sleep_efficiency"], float)


@pytest.mark.parametrize("clock", ["22:00", "00:00", "06:30"])
def test_psqi_bed_time_equal_to_getting_up_leaves_c4_missing(clock: str) -> None:
    scores = score_psqi(psqi(psqi_1=clock, psqi_3=clock))
    assert scores["c4"] is None
    assert scores["sleep_efficiency"] is None
    assert scores["global"] is None
    assert scores["poor_sleeper"] is None
    assert scores["c3"] == 0


@pytest.mark.parametrize(
    ("ratings", "c5"),
    [
        (0, 0),
        (1, 1),
        (9, 1),
        (10, 2),
        (18, 2),
        (19, 3),
        (24, 3),
    ],
)
def test_psqi_c5_disturbance_bands(ratings: int, c5: int) -> None:
    # Spread over 5b-5i (max 24); 5j without text adds nothing.
    answers = psqi(**spread(DISTURBANCE[:-1], ratings), psqi_5j=3)
    assert score_psqi(answers)["c5"] == c5


@pytest.mark.parametrize(
    ("item_5j", "text", "c5"),
    [
        # 5b-5i sum to 9; 5j = 1 moves c5 from band 1 to band 2 only when it counts
        (1, "noise", 2),
        (1, " street noise ", 2),
        (1, None, 1),  # rating without text
        (1, "", 1),
        (1, "   ", 1),  # blank text counts as missing
        (1, "\t\n", 1),
        (None, "noise", 1),  # text without rating: not missing, counts as 0
        (0, "noise", 1),
    ],
)
def test_psqi_c5_item_5j_rules(item_5j: int | None, text: str | None, c5: int) -> None:
    answers = psqi(**spread(DISTURBANCE[:-1], 9), psqi_5j=item_5j, psqi_5j_text=text)
    assert score_psqi(answers)["c5"] == c5


def test_psqi_c5_maximum_needs_5j_with_text() -> None:
    answers = psqi(**dict.fromkeys(DISTURBANCE, 3), psqi_5j_text="pain")
    assert score_psqi(answers)["c5"] == 3
    answers = psqi(**spread(DISTURBANCE[:-1], 18), psqi_5j=1, psqi_5j_text="pain")
    assert score_psqi(answers)["c5"] == 3  # 19


@pytest.mark.parametrize(("item_5j", "text"), [(DROP, DROP), (None, None), (DROP, "pain")])
def test_psqi_missing_5j_does_not_make_c5_missing(item_5j: Any, text: Any) -> None:
    scores = score_psqi(psqi(psqi_5j=item_5j, psqi_5j_text=text))
    assert scores["c5"] == 0
    assert scores["global"] == 0


@pytest.mark.parametrize(
    ("staying_awake", "enthusiasm", "c7"),
    [
        (0, 0, 0),
        (1, 0, 1),
        (0, 2, 1),
        (1, 1, 1),
        (2, 1, 2),
        (0, 3, 2),
        (2, 2, 2),
        (3, 2, 3),
        (2, 3, 3),
        (3, 3, 3),
    ],
)
def test_psqi_c7_daytime_dysfunction_bands(staying_awake: int, enthusiasm: int, c7: int) -> None:
    assert score_psqi(psqi(psqi_8=staying_awake, psqi_9=enthusiasm))["c7"] == c7


@pytest.mark.parametrize("value", [0, 1, 2, 3])
def test_psqi_c1_and_c6_are_the_items(value: int) -> None:
    scores = score_psqi(psqi(psqi_6=value, psqi_7=3 - value))
    assert scores["c1"] == value
    assert scores["c6"] == 3 - value


@pytest.mark.parametrize(
    ("changes", "global_score", "poor_sleeper"),
    [
        ({"psqi_6": 3, "psqi_7": 2}, 5, False),
        ({"psqi_6": 3, "psqi_7": 3}, 6, True),
        ({"psqi_6": 3, "psqi_7": 3, "psqi_8": 3, "psqi_9": 3}, 9, True),
    ],
)
def test_psqi_poor_sleeper_is_global_above_5(
    changes: dict[str, int], global_score: int, poor_sleeper: bool
) -> None:
    scores = score_psqi(psqi(**changes))
    assert scores["global"] == global_score
    assert scores["poor_sleeper"] is poor_sleeper


def test_psqi_global_maximum_21() -> None:
    answers = {
        "psqi_1": "20:00",
        "psqi_2": 90,
        "psqi_3": "08:00",
        "psqi_4": 3,
        "psqi_5a": 3,
        **dict.fromkeys(DISTURBANCE, 3),
        "psqi_5j_text": "pain",
        "psqi_6": 3,
        "psqi_7": 3,
        "psqi_8": 3,
        "psqi_9": 3,
    }
    scores = score_psqi(answers)
    assert components(scores) == [3] * 7
    assert scores["global"] == 21


PSQI_MISSING_EFFECTS = [
    ("psqi_1", ["c4"]),
    ("psqi_2", ["c2"]),
    ("psqi_3", ["c4"]),
    ("psqi_4", ["c3", "c4"]),
    ("psqi_5a", ["c2"]),
    *[(key, ["c5"]) for key in DISTURBANCE[:-1]],
    ("psqi_6", ["c1"]),
    ("psqi_7", ["c6"]),
    ("psqi_8", ["c7"]),
    ("psqi_9", ["c7"]),
]


@pytest.mark.parametrize(("key", "missing_components"), PSQI_MISSING_EFFECTS)
@pytest.mark.parametrize("missing", [DROP, None])
def test_psqi_missing_input_makes_its_component_and_global_missing(
    key: str, missing_components: list[str], missing: Any
) -> None:
    scores = score_psqi(psqi(**{key: missing}))
    for name in COMPONENTS:
        assert scores[name] == (None if name in missing_components else 0), name
    assert scores["global"] is None
    assert scores["poor_sleeper"] is None
    if key in {"psqi_1", "psqi_3", "psqi_4"}:
        assert scores["sleep_efficiency"] is None
    else:
        assert scores["sleep_efficiency"] is not None


def test_psqi_nothing_answered() -> None:
    scores = score_psqi({})
    assert components(scores) == [None] * 7
    assert scores["global"] is None
    assert scores["sleep_efficiency"] is None
    assert scores["poor_sleeper"] is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("psqi_1", "24:00"),
        ("psqi_1", "7:5"),
        ("psqi_1", "7:05"),
        ("psqi_1", "ab:cd"),
        ("psqi_1", "22:60"),
        ("psqi_1", "22:30:00"),
        ("psqi_1", "2230"),
        ("psqi_1", " 22:30"),
        ("psqi_1", ""),
        ("psqi_1", "٢٢:٣٠"),  # non-ASCII digits
        ("psqi_1", 2230),
        ("psqi_1", 22.5),
        ("psqi_3", "24:00"),
        ("psqi_3", "7:5"),
        ("psqi_3", "ab:cd"),
        ("psqi_3", 7),
        ("psqi_2", -1),
        ("psqi_2", 1.5),
        ("psqi_2", 20.0),
        ("psqi_2", "20"),
        ("psqi_2", True),
        ("psqi_4", -0.5),
        ("psqi_4", -1),
        ("psqi_4", 24.01),
        ("psqi_4", 25),
        ("psqi_4", Decimal("24.5")),
        ("psqi_4", "24:01"),
        ("psqi_4", "25:00"),
        ("psqi_4", "7:5"),
        ("psqi_4", "7:60"),
        ("psqi_4", "7.5"),
        ("psqi_4", "seven"),
        ("psqi_4", ""),
        ("psqi_4", True),
        ("psqi_4", float("nan")),
        ("psqi_4", float("inf")),
        ("psqi_4", Decimal("NaN")),
        ("psqi_4", [7]),
        ("psqi_5a", 4),
        ("psqi_5a", -1),
        *[(key, 4) for key in DISTURBANCE],
        ("psqi_5j", -1),
        ("psqi_5j_text", 5),
        ("psqi_6", 4),
        ("psqi_7", -1),
        ("psqi_8", "1"),
        ("psqi_9", 1.0),
    ],
)
def test_psqi_invalid_value_names_key(key: str, value: Any) -> None:
    assert_scoring_error(score_psqi, psqi(**{key: value}), key)


def test_psqi_out_of_range_5j_raises_even_without_text() -> None:
    assert_scoring_error(score_psqi, psqi(psqi_5j=4, psqi_5j_text=None), "psqi_5j")


def test_psqi_error_states_allowed_clock_range() -> None:
    with pytest.raises(ScoringError, match=r"psqi_3.*HH:MM.*00:00.*23:59"):
        score_psqi(psqi(psqi_3="24:00"))


# --- TICS -----------------------------------------------------------------------------


def test_tics_return_keys_and_default_version() -> None:
    scores = score_tics(dict.fromkeys(TICS41, 0))
    assert scores == {"total": 0, "version": "tics41", "scoring_version": "tics41-brandt1988-1"}


def test_tics_maximum_is_41() -> None:
    assert score_tics(dict(TICS41), version="tics41")["total"] == 41


@pytest.mark.parametrize(("key", "maximum"), list(TICS41.items()))
def test_tics_each_item_up_to_its_maximum(key: str, maximum: int) -> None:
    answers = {**dict.fromkeys(TICS41, 0), key: maximum}
    assert score_tics(answers)["total"] == maximum
    assert_scoring_error(score_tics, {**answers, key: maximum + 1}, key)
    assert_scoring_error(score_tics, {**answers, key: -1}, key)


@pytest.mark.parametrize("key", list(TICS41))
@pytest.mark.parametrize("missing", [DROP, None])
def test_tics_any_missing_item(key: str, missing: Any) -> None:
    answers = with_changes(dict.fromkeys(TICS41, 1), **{key: missing})
    assert score_tics(answers)["total"] is None


@pytest.mark.parametrize("value", [True, 1.0, "1"])
def test_tics_rejects_non_integer_points(value: Any) -> None:
    assert_scoring_error(
        score_tics, {**dict.fromkeys(TICS41, 0), "tics_naming": value}, "tics_naming"
    )


def test_tics_unknown_version() -> None:
    with pytest.raises(ScoringError, match="version.*ticsm"):
        score_tics(dict.fromkeys(TICS41, 0), version="ticsm")


def test_tics_other_version_is_configuration() -> None:
    ticsm = {"tics_name": 2, "tics_delayed_recall": 10, "tics_serial7": 5}
    answers = {"tics_name": 2, "tics_delayed_recall": 7, "tics_serial7": 5, "tics_date": 9}
    scores = score_tics(answers, version="ticsm", items=ticsm)
    assert scores["total"] == 14
    assert scores["version"] == "ticsm"
    assert scores["scoring_version"].startswith("ticsm-")
    # Same maxima, same version; different maxima, different version.
    assert (
        score_tics(answers, version="ticsm", items=dict(reversed(ticsm.items())))["scoring_version"]
        == scores["scoring_version"]
    )
    other = score_tics(answers, version="ticsm", items={**ticsm, "tics_serial7": 7})
    assert other["scoring_version"] != scores["scoring_version"]
    assert_scoring_error(
        score_tics,
        {**answers, "tics_delayed_recall": 11},
        "tics_delayed_recall",
        version="ticsm",
        items=ticsm,
    )


def test_tics_explicit_scoring_version() -> None:
    ticsm = {"tics_name": 2}
    scores = score_tics({"tics_name": 1}, "ticsm", items=ticsm, scoring_version="ticsm-welsh1993-1")
    assert scores["scoring_version"] == "ticsm-welsh1993-1"


def test_tics_items_equal_to_registered_version_keep_its_scoring_version() -> None:
    scores = score_tics(dict.fromkeys(TICS41, 1), "tics41", items=dict(TICS41))
    assert scores["scoring_version"] == "tics41-brandt1988-1"


@pytest.mark.parametrize("maximum", [-1, True, 2.0])
def test_tics_invalid_maximum_names_key(maximum: Any) -> None:
    assert_scoring_error(
        score_tics, {"tics_name": 0}, "tics_name", version="x", items={"tics_name": maximum}
    )


# --- All instruments ------------------------------------------------------------------


def visit_row() -> dict[str, Any]:
    """One interchange row holding every instrument's items."""
    return {
        **sf_mpq(10, 4, 35, 2),
        **spread(GAD7_SCORED, 6),
        "gad7_difficulty": 1,
        **spread(PHQ9_SCORED, 8),
        "phq9_10": 1,
        **PSQI_EXAMPLE_2,
        "psqi_5j_text": "",
        **dict.fromkeys(TICS41, 1),
    }


def test_each_scorer_ignores_other_instruments_items() -> None:
    row = visit_row()
    assert score_sf_mpq(row)["total"] == 19.5
    assert score_gad7(row)["total"] == 6
    assert score_phq9(row)["total"] == 8
    assert score_psqi(row)["global"] == 10
    assert score_tics(row)["total"] == 11


@pytest.mark.parametrize("scorer", [score_sf_mpq, score_gad7, score_phq9, score_psqi, score_tics])
def test_scoring_reads_but_never_mutates(scorer: Any) -> None:
    row = visit_row()
    before = copy.deepcopy(row)
    scorer(MappingProxyType(row))  # a read-only mapping is enough
    scorer(row)
    assert row == before


# --- Messages and derived versions ----------------------------------------------------


@pytest.mark.parametrize(
    ("scorer", "answers", "message"),
    [
        (score_psqi, psqi(psqi_2=-1), "psqi_2: must be a whole number >= 0, got -1"),
        (score_psqi, psqi(psqi_2="20"), "psqi_2: must be a whole number >= 0, got '20'"),
        (score_gad7, {"gad7_1": 4}, "gad7_1: must be a whole number from 0 to 3, got 4"),
        (score_gad7, {"gad7_1": True}, "gad7_1: must be a whole number from 0 to 3, got True"),
        (
            score_sf_mpq,
            {"sfmpq_vas_mm": 101},
            "sfmpq_vas_mm: must be a whole number from 0 to 100, got 101",
        ),
    ],
)
def test_invalid_value_message_states_the_allowed_range(
    scorer: Any, answers: dict[str, Any], message: str
) -> None:
    with pytest.raises(ScoringError) as caught:
        scorer(answers)
    assert str(caught.value) == message


def test_tics_unknown_version_is_an_error_on_version_listing_the_known_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ScoringError) as caught:
        score_tics(dict.fromkeys(TICS41, 0), version="ticsm")
    assert caught.value.key == "version"
    assert str(caught.value) == "version: unknown TICS version 'ticsm' (known: tics41)"
    # Another version is another entry in TICS_VERSIONS; the message lists them all.
    monkeypatch.setitem(TICS_VERSIONS, "tics_short", {"tics_name": 2})
    with pytest.raises(ScoringError) as caught:
        score_tics({}, version="ticsm")
    assert str(caught.value) == "version: unknown TICS version 'ticsm' (known: tics41, tics_short)"


def test_tics_registered_name_with_other_maxima_gets_a_derived_version() -> None:
    # The registered scoring version is only for the registered maxima.
    items = {**TICS41, "tics_naming": 3}
    scores = score_tics(dict.fromkeys(TICS41, 1), "tics41", items=items)
    assert scores["total"] == 11
    assert scores["scoring_version"].startswith("tics41-items-")
    assert scores["scoring_version"] != SCORING_VERSIONS["tics41"]


def test_tics_derived_version_is_stable_across_releases() -> None:
    # Stored scores keep this string: the canonical form (sorted pairs, compact JSON,
    # first 10 hex digits of SHA-256) must not drift, or equal maxima would read as
    # another version.
    ticsm = {"tics_name": 2, "tics_delayed_recall": 10, "tics_serial7": 5}
    scores = score_tics({}, "ticsm", items=ticsm)
    assert scores["scoring_version"] == "ticsm-items-10a51de4ac"


def test_tics_item_worth_zero_points_is_allowed() -> None:
    scores = score_tics(
        {"tics_name": 2, "tics_bonus": 0}, "x", items={"tics_name": 2, "tics_bonus": 0}
    )
    assert scores["total"] == 2
    assert_scoring_error(
        score_tics,
        {"tics_name": 2, "tics_bonus": 1},
        "tics_bonus",
        version="x",
        items={"tics_name": 2, "tics_bonus": 0},
    )


@pytest.mark.parametrize("maximum", [-1, True, 2.0])
def test_tics_invalid_maximum_message(maximum: Any) -> None:
    with pytest.raises(ScoringError) as caught:
        score_tics({}, version="x", items={"tics_name": maximum})
    assert str(caught.value) == (
        f"tics_name: maximum points must be a whole number >= 0, got {maximum!r}"
    )


@pytest.mark.parametrize(("item_5a", "c2"), [(0, 2), (1, 2), (2, 3)])
def test_psqi_latency_over_an_hour_bands_with_5a(item_5a: int, c2: int) -> None:
    # > 60 min scores 3; with 5a the sum 3-4 is c2 = 2 and 5-6 is c2 = 3.
    assert score_psqi(psqi(psqi_2=61, psqi_5a=item_5a))["c2"] == c2


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (
            psqi(psqi_4=25),
            'psqi_4: must be hours from 0 to 24 as a number or "H:MM" (up to 24:00), got 25',
        ),
        (psqi(psqi_5j_text=5), "psqi_5j_text: must be text, got 5"),
        (
            psqi(psqi_1="7pm"),
            "psqi_1: must be a 24-hour time \"HH:MM\" from 00:00 to 23:59, got '7pm'",
        ),
    ],
)
def test_psqi_invalid_value_message(answers: dict[str, Any], message: str) -> None:
    with pytest.raises(ScoringError) as caught:
        score_psqi(answers)
    assert str(caught.value) == message
