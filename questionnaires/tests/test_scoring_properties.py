"""Properties of the scoring rules over generated answers (hypothesis)."""

import contextlib
import copy
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from questionnaires.scoring import (
    GAD7_ITEMS,
    ITEM_RANGES,
    PHQ9_ITEMS,
    PSQI_ITEMS,
    SF_MPQ_AFFECTIVE_ITEMS,
    SF_MPQ_ITEMS,
    SF_MPQ_SENSORY_ITEMS,
    TICS_VERSIONS,
    ScoringError,
    score_gad7,
    score_phq9,
    score_psqi,
    score_sf_mpq,
    score_tics,
)

# No example database: the tests must not write into the repository.
PROPERTY = settings(database=None, deadline=None, max_examples=200)

TICS41 = TICS_VERSIONS["tics41"]
PHQ9_SCORED = PHQ9_ITEMS[:9]
GAD7_SCORED = GAD7_ITEMS[:7]
PSQI_DISTURBANCE = [f"psqi_5{letter}" for letter in "bcdefghij"]
PSQI_REQUIRED = [key for key in PSQI_ITEMS if key not in {"psqi_5j", "psqi_5j_text"}]
PSQI_INT_ITEMS = [key for key in PSQI_ITEMS if key in ITEM_RANGES]


def rated(key: str) -> st.SearchStrategy[int]:
    low, high = ITEM_RANGES[key]
    return st.integers(low, 720 if high is None else high)


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


clock_times = st.integers(0, 1439).map(clock)
sleep_hours = st.one_of(
    st.integers(0, 24),
    st.floats(0, 24, allow_nan=False, allow_infinity=False),
    st.decimals(0, 24, places=3),
    st.integers(0, 1440).map(lambda minutes: f"{minutes // 60}:{minutes % 60:02d}"),
    st.integers(0, 1440).map(clock),
)
other_text = st.one_of(st.none(), st.text(max_size=20))


def complete(strategies: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(strategies)


def sometimes_missing(strategies: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict]:
    """Answers where any item may be absent or None."""
    return st.fixed_dictionaries(
        {}, optional={key: st.one_of(st.none(), value) for key, value in strategies.items()}
    )


SF_MPQ = {key: rated(key) for key in SF_MPQ_ITEMS}
GAD7 = {key: rated(key) for key in GAD7_ITEMS}
PHQ9 = {key: rated(key) for key in PHQ9_ITEMS}
PSQI = {
    **{key: rated(key) for key in PSQI_INT_ITEMS},
    "psqi_1": clock_times,
    "psqi_3": clock_times,
    "psqi_4": sleep_hours,
    "psqi_5j_text": other_text,
}
TICS = {key: st.integers(0, maximum) for key, maximum in TICS41.items()}

SCORERS: dict[str, tuple[Callable[[Any], dict[str, Any]], dict[str, Any]]] = {
    "sf_mpq": (score_sf_mpq, SF_MPQ),
    "gad7": (score_gad7, GAD7),
    "phq9": (score_phq9, PHQ9),
    "psqi": (score_psqi, PSQI),
    "tics": (score_tics, TICS),
}


# --- Valid answers give scores inside their ranges -----------------------------------


@PROPERTY
@given(complete(SF_MPQ))
def test_sf_mpq_scores_in_range(answers: dict[str, int]) -> None:
    scores = score_sf_mpq(answers)
    assert 0 <= scores["pri_sensory"] <= 33
    assert 0 <= scores["pri_affective"] <= 12
    assert scores["pri_total"] == scores["pri_sensory"] + scores["pri_affective"]
    assert 0 <= scores["pri_total"] <= 45
    exact = Fraction(scores["pri_total"] + scores["ppi"]) + Fraction(answers["sfmpq_vas_mm"], 10)
    assert scores["total"] == float(exact)
    assert 0 <= scores["total"] <= 60
    assert scores["persistent_pain"] is (answers["sfmpq_vas_mm"] >= 30)


@PROPERTY
@given(complete(GAD7))
def test_gad7_scores_in_range(answers: dict[str, int]) -> None:
    scores = score_gad7(answers)
    assert scores["total"] == sum(answers[key] for key in GAD7_SCORED)
    assert 0 <= scores["total"] <= 21
    assert scores["severity"] in {"minimal", "mild", "moderate", "severe"}


@PROPERTY
@given(sometimes_missing(PHQ9))
def test_phq9_scores_in_range_and_prorated_half_up(answers: dict[str, int | None]) -> None:
    scores = score_phq9(answers)
    answered = [answers[key] for key in PHQ9_SCORED if answers.get(key) is not None]
    missing = 9 - len(answered)
    if missing > 2:
        assert scores["total"] is None
        assert scores["severity"] is None
        assert scores["prorated"] is False
    else:
        # Reference rounding with exact fractions: floor(x + 1/2) is half up.
        expected = int(Fraction(sum(answered) * 9, len(answered)) + Fraction(1, 2))
        assert scores["total"] == expected
        assert 0 <= scores["total"] <= 27
        assert scores["prorated"] is (missing > 0)
        assert scores["severity"] in {
            "none_minimal",
            "mild",
            "moderate",
            "moderately_severe",
            "severe",
        }
    item9 = answers.get("phq9_9")
    assert scores["item9_alert"] is (item9 is None or item9 >= 1)


def reference_time_in_bed(bed: str, getting_up: str) -> int | None:
    bed_min = int(bed[:2]) * 60 + int(bed[3:])
    up_min = int(getting_up[:2]) * 60 + int(getting_up[3:])
    if up_min == bed_min:
        return None
    return up_min - bed_min if up_min > bed_min else up_min + 24 * 60 - bed_min


def reference_band(value: Fraction | int, edges: list[tuple[Fraction | int, int]]) -> int:
    for lowest, points in edges:
        if value >= lowest:
            return points
    return 3


@PROPERTY
@given(complete(PSQI))
def test_psqi_scores_in_range(answers: dict[str, Any]) -> None:
    scores = score_psqi(answers)
    bed_min = reference_time_in_bed(answers["psqi_1"], answers["psqi_3"])
    for name in ("c1", "c2", "c3", "c5", "c6", "c7"):
        assert scores[name] in {0, 1, 2, 3}, name
    if bed_min is None:
        assert scores["c4"] is None
        assert scores["sleep_efficiency"] is None
        assert scores["global"] is None
        assert scores["poor_sleeper"] is None
        return
    assert scores["c4"] in {0, 1, 2, 3}
    assert scores["global"] == sum(scores[f"c{n}"] for n in range(1, 8))
    assert 0 <= scores["global"] <= 21
    assert scores["poor_sleeper"] is (scores["global"] > 5)
    assert scores["sleep_efficiency"] >= 0


@PROPERTY
@given(clock_times, clock_times, st.integers(0, 1440))
def test_psqi_efficiency_matches_exact_fractions(bed: str, getting_up: str, sleep: int) -> None:
    scores = score_psqi({"psqi_1": bed, "psqi_3": getting_up, "psqi_4": clock(sleep)})
    bed_min = reference_time_in_bed(bed, getting_up)
    if bed_min is None:
        assert scores["c4"] is None
        return
    efficiency = Fraction(sleep * 100, bed_min)
    assert scores["c4"] == reference_band(efficiency, [(85, 0), (75, 1), (65, 2)])
    assert scores["sleep_efficiency"] == float(efficiency)
    assert scores["c3"] == reference_band(sleep, [(420, 0), (360, 1), (300, 2)])


# --- One bad value raises, naming its key ---------------------------------------------


def bad_int(key: str, low: int, high: int | None) -> st.SearchStrategy[Any]:
    options = [
        st.integers(max_value=low - 1),
        st.booleans(),
        st.floats(allow_nan=True),
        st.integers(low, high or 100).map(str),
        st.just([low]),
    ]
    if high is not None:
        options.append(st.integers(min_value=high + 1))
    return st.one_of(options)


def bad_value(key: str) -> st.SearchStrategy[Any]:
    if key in ("psqi_1", "psqi_3"):
        return st.one_of(
            st.text().filter(lambda text: not _is_clock(text)),
            st.integers(0, 2359),
            st.builds(lambda h, m: f"{h}:{m:02d}", st.integers(24, 99), st.integers(0, 59)),
        )
    if key == "psqi_4":
        return st.one_of(
            st.floats(min_value=24, exclude_min=True),
            st.floats(max_value=0, exclude_max=True),
            st.integers(min_value=25),
            st.integers(max_value=-1),
            st.decimals(min_value=Decimal("24.001")),
            st.integers(1441, 6000).map(lambda m: f"{m // 60}:{m % 60:02d}"),
            st.sampled_from(["7.5", "7:5", "7:60", "", "seven", "7h"]),
            st.just(float("nan")),
            st.booleans(),
        )
    if key == "psqi_5j_text":
        return st.one_of(st.integers(), st.lists(st.text(), max_size=1))
    if key in TICS41:
        return bad_int(key, 0, TICS41[key])
    return bad_int(key, *ITEM_RANGES[key])


def _is_clock(text: str) -> bool:
    return (
        len(text) == 5
        and text[2] == ":"
        and text[:2].isascii()
        and text[:2].isdigit()
        and text[3:].isascii()
        and text[3:].isdigit()
        and int(text[:2]) < 24
        and int(text[3:]) < 60
    )


@st.composite
def one_bad_answer(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    instrument = draw(st.sampled_from(sorted(SCORERS)))
    _scorer, strategies = SCORERS[instrument]
    answers = draw(sometimes_missing(strategies))
    key = draw(st.sampled_from(sorted(strategies)))
    answers[key] = draw(bad_value(key))
    return instrument, key, answers


@PROPERTY
@given(one_bad_answer())
def test_any_bad_value_raises_naming_its_key(case: tuple[str, str, dict[str, Any]]) -> None:
    instrument, key, answers = case
    scorer, _strategies = SCORERS[instrument]
    try:
        scorer(answers)
    except ScoringError as err:
        assert err.key == key
        assert key in str(err)
    else:
        raise AssertionError(f"{instrument}: {key}={answers[key]!r} was accepted")


# --- Scoring never mutates its input --------------------------------------------------


@st.composite
def any_answers(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    instrument = draw(st.sampled_from(sorted(SCORERS)))
    _scorer, strategies = SCORERS[instrument]
    answers = draw(sometimes_missing(strategies))
    if draw(st.booleans()):
        key = draw(st.sampled_from(sorted(strategies)))
        answers[key] = draw(bad_value(key))
    answers["unrelated_key"] = draw(st.lists(st.integers(), max_size=3))
    return instrument, answers


@PROPERTY
@given(any_answers())
def test_scoring_never_mutates_answers(case: tuple[str, dict[str, Any]]) -> None:
    instrument, answers = case
    scorer, _strategies = SCORERS[instrument]
    before = copy.deepcopy(answers)
    with contextlib.suppress(ScoringError):
        scorer(answers)
    # repr() so that NaN, which is not equal to itself, still compares.
    assert repr(answers) == repr(before)


# --- Missing items give None where the rules say -------------------------------------


def drop(answers: dict[str, Any], key: str, as_none: bool) -> dict[str, Any]:
    answers = dict(answers)
    if as_none:
        answers[key] = None
    else:
        del answers[key]
    return answers


@PROPERTY
@given(complete(SF_MPQ), st.sampled_from(SF_MPQ_ITEMS), st.booleans())
def test_sf_mpq_missing_item(answers: dict[str, int], key: str, as_none: bool) -> None:
    scores = score_sf_mpq(drop(answers, key, as_none))
    assert scores["total"] is None
    if key in SF_MPQ_SENSORY_ITEMS:
        assert scores["pri_sensory"] is None
        assert scores["pri_total"] is None
        assert scores["pri_affective"] is not None
    elif key in SF_MPQ_AFFECTIVE_ITEMS:
        assert scores["pri_affective"] is None
        assert scores["pri_total"] is None
        assert scores["pri_sensory"] is not None
    elif key == "sfmpq_vas_mm":
        assert scores["vas_mm"] is None
        assert scores["persistent_pain"] is None
        assert scores["pri_total"] is not None
    else:
        assert scores["ppi"] is None
        assert scores["pri_total"] is not None
        assert scores["persistent_pain"] is not None


@PROPERTY
@given(complete(GAD7), st.sampled_from(GAD7_SCORED), st.booleans())
def test_gad7_missing_item(answers: dict[str, int], key: str, as_none: bool) -> None:
    scores = score_gad7(drop(answers, key, as_none))
    assert scores["total"] is None
    assert scores["severity"] is None


@PROPERTY
@given(complete(PSQI), st.sampled_from(PSQI_REQUIRED), st.booleans())
def test_psqi_missing_required_item(answers: dict[str, Any], key: str, as_none: bool) -> None:
    scores = score_psqi(drop(answers, key, as_none))
    assert scores["global"] is None
    assert scores["poor_sleeper"] is None
    assert None in [scores[f"c{n}"] for n in range(1, 8)]


@PROPERTY
@given(complete(PSQI), st.sampled_from(["psqi_5j", "psqi_5j_text"]), st.booleans())
def test_psqi_missing_other_reason_never_makes_c5_missing(
    answers: dict[str, Any], key: str, as_none: bool
) -> None:
    scores = score_psqi(drop(answers, key, as_none))
    assert scores["c5"] is not None
    reduced = {**answers, "psqi_5j": 0}
    assert scores["c5"] == score_psqi(reduced)["c5"]


@PROPERTY
@given(complete(TICS), st.sampled_from(list(TICS41)), st.booleans())
def test_tics_missing_item(answers: dict[str, int], key: str, as_none: bool) -> None:
    assert score_tics(drop(answers, key, as_none))["total"] is None


@PROPERTY
@given(complete(TICS))
def test_tics_total_in_range(answers: dict[str, int]) -> None:
    assert 0 <= score_tics(answers)["total"] <= 41


@PROPERTY
@given(st.dictionaries(st.sampled_from(PSQI_INT_ITEMS), st.none()))
def test_all_none_is_the_same_as_absent(nones: dict[str, None]) -> None:
    assume(nones)
    assert score_psqi(nones) == score_psqi({})
