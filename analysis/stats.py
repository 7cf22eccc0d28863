"""Pure domain layer: the statistics of the DSMB report (protocol.md, statistical analysis plan).

No Django, no database, no settings: every public function takes pandas DataFrames and returns
plain dicts and lists of ``str``, ``int``, ``float`` and ``None`` in the shapes of contracts.md
§4, ready for ``json.dumps(..., allow_nan=False)``. A value that cannot be computed (an arm with
no data, no variation, no completers) is ``None``, never NaN, and the functions do not raise on
the shape of the data. They raise :class:`ValueError` only when the input breaks its contract:
a missing column, an arm or visit value that is not one of the expected ones, a value that is
not a number or not a known category, a participant listed twice or in two arms.

Inputs
    ``participants`` has one row per randomized participant and the columns
    :data:`PARTICIPANT_COLUMNS`. Booleans may be ``True``/``False``, ``1``/``0`` or the
    strings ``"1"``/``"0"``/``"true"``/``"false"``/``"yes"``/``"no"``; categories are the
    contract's values (:data:`CATEGORIES`); ``None``/NaN/blank is missing and is left out of
    that variable's row (so the counts of a row can add up to less than the arm's size).
    ``outcomes`` is long: one row per participant and visit with the columns
    :data:`OUTCOME_ID_COLUMNS` and the score columns (:data:`OUTCOMES` and
    :data:`TICS_OUTCOME`), NaN where not collected; a visit without a row is missing too.
    ``arms`` is the two arm labels in report order, default :data:`DEFAULT_ARMS`; every
    ``mean_difference`` is the first arm minus the second (MLT − PLACEBO) and a visit minus
    baseline.

Decisions where the plan leaves room (each is pinned by a test)
    * Continuous two-arm comparisons (baseline, TICS): Shapiro–Wilk in each arm; Student's
      (pooled-variance) t-test when both p ≥ 0.05, otherwise Mann–Whitney U (two-sided, scipy's
      ``method="auto"``: exact without ties when an arm has ≤ 8 values, else the normal
      approximation with tie and continuity correction). Shapiro–Wilk needs 3 values and
      variation, so an arm with fewer than 3 values or with all values equal gets
      Mann–Whitney U. When every value of both arms is equal, Mann–Whitney's p is 1.0: every
      relabelling of the arms gives the same U.
    * Categorical comparisons: arms × categories table, all-zero rows and columns dropped;
      Pearson's chi-square (no Yates correction, which could only apply to a 2×2 table and
      those go to Fisher) when more than 2 rows or columns remain, Fisher's exact test
      otherwise. If fewer than two arms have data, p is ``None``. If both arms have data but
      only one category is used, p is 1.0: with the margins fixed only one table is possible,
      so Fisher's conditional p is exactly 1 (scipy's ``fisher_exact`` agrees).
    * Persistent pain is VAS ≥ 30 mm (30 counts) among the participants with a VAS at that
      visit; TICS is compared among those with a TICS at m6. Both use all available data in
      either population: a single-visit comparison loses nothing to other missing visits.
      The baseline table uses every randomized participant in ``participants``.
    * Repeated measures, ``population="completers"``: the participants with the outcome at
      all four visits (complete cases), two-way mixed ANOVA (arm between, visit within,
      ``pingouin.mixed_anova``). Mauchly's test on the pooled within-arm covariance; when its
      p < 0.05 the visit and interaction p are Greenhouse–Geisser corrected. When Mauchly's
      test cannot be computed (fewer error degrees of freedom than visits − 1) the correction
      is applied anyway, as the conservative choice. ``method`` says which.
    * ``population="available"``: every non-missing value, linear mixed model (statsmodels
      ``MixedLM``, maximum likelihood, random intercept per participant, fixed arm, visit and
      arm × visit), likelihood-ratio tests: the interaction by dropping it from the full
      model, arm and visit (type II) by dropping each from the additive model. Missing visits
      are assumed missing at random. Every arm × visit cell needs data for the model to be
      fitted. When statsmodels' default optimisers do not converge the model is refitted with
      Nelder–Mead; if that does not converge either, ``method`` carries a warning.
    * A test whose error variance is zero (constant data, or data that the model fits
      exactly) has no F or likelihood ratio: its p is ``None`` and ``method`` says why.
    * Pairwise comparisons use the observed data of the population, not model contrasts:
      arms at each visit by Student's t-test (family of 4, one per visit); each follow-up
      visit against baseline within each arm by a paired t-test on the participants with both
      visits (a family of 3 per arm, like the simple effects of SPSS's Bonferroni pairwise
      comparisons within each level of the between factor). ``p_bonferroni`` is p × family
      size capped at 1, and the confidence interval is Bonferroni-adjusted to match
      (level 1 − 0.05 / family size, so it excludes 0 exactly when p_bonferroni < 0.05). A
      comparison with fewer than 2 values in an arm (or pairs), or with no variation (all
      values equal within each arm, or all differences equal), has ``None`` p and interval;
      its mean difference is still given when both sides have data.
    * Summaries: sample SD (ddof 1), SEM = SD / √n; ``None`` below 2 values.
"""

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from questionnaires import scoring

__all__ = [
    "ALPHA",
    "ANOVA_NOT_COMPUTED",
    "ARMS_ERROR",
    "BASELINE_VARIABLES",
    "BONFERRONI_FAMILY_ARM_AT_VISIT",
    "BONFERRONI_FAMILY_VISIT_VS_BASELINE",
    "CATEGORICAL_VARIABLES",
    "CATEGORIES",
    "CHEMO_PLANS",
    "CONTINUOUS_VARIABLES",
    "DEFAULT_ARMS",
    "FOLLOW_UP_VISITS",
    "OUTCOMES",
    "OUTCOME_ID_COLUMNS",
    "PARTICIPANT_COLUMNS",
    "PERSISTENT_PAIN_VAS_MM",
    "PERSISTENT_PAIN_VISITS",
    "POPULATIONS",
    "SHAPIRO_MIN_N",
    "TABLE_ERROR",
    "TICS_OUTCOME",
    "TICS_VISIT",
    "VISITS",
    "DEFAULT_DESIGN",
    "Design",
    "baseline_table",
    "choose_categorical_test",
    "choose_continuous_test",
    "dsmb_statistics",
    "outcome_analysis",
    "persistent_pain",
    "tics_comparison",
]

Population = Literal["completers", "available"]
ContinuousTest = Literal["student_t", "mann_whitney"]
CategoricalTest = Literal["fisher", "chi_square"]

ALPHA = 0.05
DESIGN_VISITS_ERROR = "An analysis needs at least two distinct visits, baseline first; got {visits}"
DESIGN_UNKNOWN_VISIT_ERROR = "The analysis names visits {values} that are not among {visits}"
DEFAULT_ARMS: tuple[str, str] = ("MLT", "PLACEBO")
POPULATIONS: tuple[str, ...] = ("completers", "available")

VISITS: tuple[str, ...] = ("baseline", "m1", "m3", "m6")
FOLLOW_UP_VISITS: tuple[str, ...] = VISITS[1:]
OUTCOMES: tuple[str, ...] = (
    "sf_mpq_total",
    "sf_mpq_pri_total",
    "vas_mm",
    "ppi",
    "gad7_total",
    "phq9_total",
    "psqi_global",
)
TICS_OUTCOME = "tics_total"
TICS_VISIT = "m6"
# The threshold is the scoring's (one definition): VAS >= 30 mm is persistent pain.
PERSISTENT_PAIN_VAS_MM = scoring.PERSISTENT_PAIN_VAS_MM
PERSISTENT_PAIN_VISITS: tuple[str, ...] = ("m3", "m6")
BONFERRONI_FAMILY_ARM_AT_VISIT = len(VISITS)
BONFERRONI_FAMILY_VISIT_VS_BASELINE = len(FOLLOW_UP_VISITS)


@dataclass(frozen=True)
class Design:
    """The visits the analysis plan runs over, in time order; the first is baseline.

    The protocol's by default (baseline, m1, m3, m6; persistent pain at m3 and m6;
    TICS at m6); the Django layer builds it from the configured schedule, so another
    schedule (a 12-month visit) needs no change here. Bonferroni families are the
    number of comparisons each makes: one per visit, one per follow-up visit.
    """

    visits: tuple[str, ...] = VISITS
    persistent_pain_visits: tuple[str, ...] = PERSISTENT_PAIN_VISITS
    tics_visit: str | None = TICS_VISIT

    def __post_init__(self) -> None:
        if len(self.visits) < 2 or len(set(self.visits)) != len(self.visits):
            raise ValueError(DESIGN_VISITS_ERROR.format(visits=list(self.visits)))
        stray = [v for v in self.persistent_pain_visits if v not in self.visits]
        if stray or (self.tics_visit is not None and self.tics_visit not in self.visits):
            raise ValueError(
                DESIGN_UNKNOWN_VISIT_ERROR.format(
                    visits=list(self.visits), values=stray or [self.tics_visit]
                )
            )

    @property
    def baseline(self) -> str:
        return self.visits[0]

    @property
    def follow_up(self) -> tuple[str, ...]:
        return self.visits[1:]


DEFAULT_DESIGN = Design()
# Shapiro–Wilk is undefined below three values.
SHAPIRO_MIN_N = 3

PARTICIPANT_COLUMNS: tuple[str, ...] = (
    "study_id",
    "arm",
    "age",
    "bmi",
    "comorbidity",
    "surgical_site",
    "preop_vas_mm",
    "procedure_type",
    "chemo_regimen",
    "radiotherapy",
    "hormone_therapy",
    "targeted_therapy",
)
OUTCOME_ID_COLUMNS: tuple[str, ...] = ("study_id", "arm", "visit")

CHEMO_PLANS: Mapping[str, str | None] = {
    "none": None,
    "C+A": "two_drug",
    "C+E": "two_drug",
    "C+T": "two_drug",
    "C+A+T": "three_drug",
    "C+E+T": "three_drug",
}
YES_NO: tuple[str, str] = ("yes", "no")
CONTINUOUS_VARIABLES: tuple[str, ...] = ("age", "bmi", "preop_vas_mm")
BOOLEAN_VARIABLES: tuple[str, ...] = (
    "comorbidity",
    "radiotherapy",
    "hormone_therapy",
    "targeted_therapy",
)
# Every category is listed, used or not, so each arm shows its zero counts.
CATEGORIES: Mapping[str, tuple[str, ...]] = {
    "comorbidity": YES_NO,
    "surgical_site": ("left", "right", "bilateral"),
    "preop_pain_condition": YES_NO,
    "procedure_type": ("mastectomy", "lumpectomy"),
    "chemo_plan": ("two_drug", "three_drug"),
    "radiotherapy": YES_NO,
    "hormone_therapy": YES_NO,
    "targeted_therapy": YES_NO,
}
CATEGORICAL_VARIABLES: tuple[str, ...] = tuple(CATEGORIES)
BASELINE_VARIABLES: tuple[str, ...] = (
    "age",
    "bmi",
    "comorbidity",
    "surgical_site",
    "preop_vas_mm",
    "preop_pain_condition",
    "procedure_type",
    "chemo_plan",
    "radiotherapy",
    "hormone_therapy",
    "targeted_therapy",
)
# Arm labels sit beside these keys in the report, so an arm may not be called one of them.
RESERVED_KEYS = frozenset({"kind", "test", "p"})
_TRUE_STRINGS = frozenset({"1", "true", "yes"})
_FALSE_STRINGS = frozenset({"0", "false", "no"})

ARMS_ERROR = "arms must be two distinct non-empty strings, none of kind/test/p; got {arms!r}"
MISSING_COLUMNS_ERROR = "{frame} is missing column(s): {columns}"
UNKNOWN_ARM_ERROR = "{frame}: arm value(s) not in arms {arms}: {values}"
UNKNOWN_VISIT_ERROR = "outcomes: visit value(s) not in {visits}: {values}"
UNKNOWN_CATEGORY_ERROR = "participants: {column} value(s) not in {allowed}: {values}"
NOT_NUMERIC_ERROR = "{frame}: {column} has value(s) that are not finite numbers: {values}"
NOT_BOOLEAN_ERROR = "participants: {column} value(s) are not yes/no: {values}"
DUPLICATE_PARTICIPANT_ERROR = "participants: study_id listed more than once: {values}"
DUPLICATE_VISIT_ERROR = "outcomes: more than one row for study_id and visit: {values}"
ARM_CONFLICT_ERROR = "study_id in more than one arm: {values}"
TABLE_ERROR = "a contingency table is a 2-D array of non-negative finite counts"
POPULATION_ERROR = "population must be one of {populations}; got {population!r}"
ANOVA_NOT_COMPUTED = "not computed: {reason}"


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def choose_continuous_test(
    a: Iterable[float], b: Iterable[float], alpha: float = ALPHA
) -> ContinuousTest:
    """The protocol's test for two arms of a continuous variable (NaN values ignored).

    Student's t when Shapiro–Wilk has p ≥ ``alpha`` in both arms; Mann–Whitney U when either
    arm has p < ``alpha``, fewer than :data:`SHAPIRO_MIN_N` values, or all values equal
    (normality cannot be assessed there, so the distribution-free test is the safe side).
    """
    for values in (_finite(a), _finite(b)):
        if values.size < SHAPIRO_MIN_N or np.ptp(values) == 0:
            return "mann_whitney"
        with warnings.catch_warnings():
            # scipy warns that p is approximate above 5000 values; a DSMB table never gets there.
            warnings.simplefilter("ignore", UserWarning)  # pragma: no mutate (a warning only)
            if stats.shapiro(values).pvalue < alpha:
                return "mann_whitney"
    return "student_t"


def choose_categorical_test(table: Any) -> CategoricalTest:
    """The protocol's test for an arms × categories table of counts.

    All-zero rows and columns are dropped first; Pearson's chi-square if more than two rows or
    columns remain, else Fisher's exact test (a 2×2 table, or one that collapsed below it;
    see the module docstring for the p-value of a collapsed table).
    """
    reduced = _reduced_table(table)
    rows, columns = reduced.shape
    return "chi_square" if rows > 2 or columns > 2 else "fisher"


def baseline_table(
    participants: pd.DataFrame, arms: Sequence[str] = DEFAULT_ARMS
) -> dict[str, dict[str, Any]]:
    """Table 1 of the trial by arm: ``{VARIABLE: {"kind", "test", "p", arm: ...}}``.

    Continuous variables give ``{arm: {"n", "mean", "sd"}}``, categorical ones
    ``{arm: {category: count}}``. ``preop_pain_condition`` is ``preop_vas_mm`` ≥ 30 and
    ``chemo_plan`` groups the regimens into two_drug / three_drug, leaving out "none".
    """
    arm_labels = _check_arms(arms)
    frame = _prepare_participants(participants, arm_labels)
    table: dict[str, dict[str, Any]] = {}
    for variable in BASELINE_VARIABLES:
        if variable in CONTINUOUS_VARIABLES:
            table[variable] = _continuous_row(frame, variable, arm_labels)
        else:
            table[variable] = _categorical_row(frame, variable, arm_labels)
    return table


def persistent_pain(
    outcomes: pd.DataFrame, arms: Sequence[str] = DEFAULT_ARMS, *, design: Design = DEFAULT_DESIGN
) -> dict[str, dict[str, Any]]:
    """Persistent pain (VAS ≥ 30 mm) at the design's endpoint visits (the protocol's m3
    and m6) by arm, Fisher's exact test."""
    arm_labels = _check_arms(arms)
    frame = _prepare_outcomes(outcomes, arm_labels, ("vas_mm",), design=design)
    result: dict[str, dict[str, Any]] = {}
    for visit in design.persistent_pain_visits:
        assessed = frame[(frame["visit"] == visit) & frame["vas_mm"].notna()]
        row: dict[str, Any] = {}
        for arm in arm_labels:
            vas = assessed.loc[assessed["arm"] == arm, "vas_mm"]
            row[arm] = {"events": int((vas >= PERSISTENT_PAIN_VAS_MM).sum()), "n": int(vas.size)}
        p: float | None = None
        if all(row[arm]["n"] > 0 for arm in arm_labels):
            counts = [
                [row[arm]["events"], row[arm]["n"] - row[arm]["events"]] for arm in arm_labels
            ]
            p = _float(stats.fisher_exact(counts).pvalue)
        row["test"] = "fisher"
        row["p"] = p
        result[visit] = row
    return result


def outcome_analysis(
    outcomes: pd.DataFrame,
    outcome: str,
    arms: Sequence[str] = DEFAULT_ARMS,
    population: Population = "completers",
    *,
    design: Design = DEFAULT_DESIGN,
) -> dict[str, Any]:
    """Repeated-measures analysis of one questionnaire score over the design's visits
    (the protocol's baseline, m1, m3 and m6).

    Returns ``{"visits", "anova", "arm_at_visit", "visit_vs_baseline"}`` as in contracts.md
    §4, all computed on the data of ``population`` (module docstring: completers get the
    mixed ANOVA, available data the linear mixed model).
    """
    arm_labels = _check_arms(arms)
    _check_population(population)
    frame = _prepare_outcomes(outcomes, arm_labels, (outcome,), design=design)
    observed = frame.loc[frame[outcome].notna(), ["study_id", "arm", "visit", outcome]]
    observed = observed.rename(columns={outcome: "value"})
    if population == "completers":
        visits_seen = observed.groupby("study_id")["visit"].nunique()
        completers = visits_seen.index[visits_seen == len(design.visits)]
        data = observed[observed["study_id"].isin(completers)]
        anova = _mixed_anova(data, arm_labels, n_with_data=int(visits_seen.size), design=design)
    else:
        data = observed
        anova = _mixed_model(data, arm_labels, design=design)
    return {
        "visits": _visit_summaries(data, arm_labels, design=design),
        "anova": anova,
        "arm_at_visit": _arm_at_visit(data, arm_labels, design=design),
        "visit_vs_baseline": _visit_vs_baseline(data, arm_labels, design=design),
    }


def tics_comparison(
    outcomes: pd.DataFrame, arms: Sequence[str] = DEFAULT_ARMS, *, design: Design = DEFAULT_DESIGN
) -> dict[str, Any]:
    """TICS at the design's TICS visit (the protocol's m6) between arms, tested as a
    continuous baseline variable."""
    arm_labels = _check_arms(arms)
    frame = _prepare_outcomes(outcomes, arm_labels, (TICS_OUTCOME,), design=design)
    at_visit = frame[frame["visit"] == design.tics_visit]
    samples = [_finite(at_visit.loc[at_visit["arm"] == arm, TICS_OUTCOME]) for arm in arm_labels]
    test, p = _compare_continuous(samples[0], samples[1])
    result: dict[str, Any] = {"test": test, "p": p}
    for arm, values in zip(arm_labels, samples, strict=True):
        result[arm] = _describe(values)
    return result


def dsmb_statistics(
    participants: pd.DataFrame,
    outcomes: pd.DataFrame,
    arms: Sequence[str] = DEFAULT_ARMS,
    population: Population = "completers",
    *,
    design: Design = DEFAULT_DESIGN,
) -> dict[str, Any]:
    """The statistical part of the DSMB report (contracts.md §4, without consort and safety)."""
    arm_labels = _check_arms(arms)
    _check_population(population)
    people = _prepare_participants(participants, arm_labels)
    visits = _prepare_outcomes(outcomes, arm_labels, (*OUTCOMES, TICS_OUTCOME), design=design)
    # One participant, one arm: a disagreement between the two inputs is a data error.
    arm_of = people.set_index("study_id")["arm"]
    recorded = visits["study_id"].map(arm_of)
    conflict = recorded.notna() & (recorded != visits["arm"])
    if conflict.any():
        raise ValueError(
            ARM_CONFLICT_ERROR.format(values=_listing(visits.loc[conflict, "study_id"]))
        )
    return {
        "population": population,
        "arms": list(arm_labels),
        "baseline": baseline_table(participants, arm_labels),
        "persistent_pain": persistent_pain(visits, arm_labels, design=design),
        "outcomes": {
            outcome: outcome_analysis(visits, outcome, arm_labels, population, design=design)
            for outcome in OUTCOMES
        },
        "tics": tics_comparison(visits, arm_labels, design=design),
    }


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


def _check_arms(arms: Sequence[str]) -> tuple[str, str]:
    labels = tuple(arms) if not isinstance(arms, str) else (arms,)
    valid = (
        len(labels) == 2
        and all(isinstance(arm, str) and arm for arm in labels)
        and labels[0] != labels[1]
        and not RESERVED_KEYS & set(labels)
    )
    if not valid:
        raise ValueError(ARMS_ERROR.format(arms=arms))
    return labels[0], labels[1]


def _check_population(population: str) -> None:
    if population not in POPULATIONS:
        raise ValueError(POPULATION_ERROR.format(populations=POPULATIONS, population=population))


def _check_columns(frame: pd.DataFrame, name: str, columns: Iterable[str]) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(MISSING_COLUMNS_ERROR.format(frame=name, columns=", ".join(missing)))


def _check_arm_values(frame: pd.DataFrame, name: str, arms: tuple[str, str]) -> None:
    unknown = ~frame["arm"].isin(arms)
    if unknown.any():
        values = _listing(frame.loc[unknown, "arm"])
        raise ValueError(UNKNOWN_ARM_ERROR.format(frame=name, arms=list(arms), values=values))


def _prepare_participants(participants: pd.DataFrame, arms: tuple[str, str]) -> pd.DataFrame:
    """A typed copy: numbers as float, booleans and categories as their category strings."""
    _check_columns(participants, "participants", PARTICIPANT_COLUMNS)
    _check_arm_values(participants, "participants", arms)
    duplicated = participants["study_id"].duplicated(keep=False)
    if duplicated.any():
        values = _listing(participants.loc[duplicated, "study_id"])
        raise ValueError(DUPLICATE_PARTICIPANT_ERROR.format(values=values))
    frame = pd.DataFrame(
        {"study_id": participants["study_id"].to_numpy(), "arm": participants["arm"].to_numpy()}
    )
    for column in CONTINUOUS_VARIABLES:
        frame[column] = _numeric(participants[column], "participants", column).to_numpy()
    for column in BOOLEAN_VARIABLES:
        frame[column] = [_yes_no(value, column) for value in participants[column]]
    for column in ("surgical_site", "procedure_type"):
        frame[column] = _category(participants[column], column, CATEGORIES[column]).to_numpy()
    regimen = _category(participants["chemo_regimen"], "chemo_regimen", tuple(CHEMO_PLANS))
    frame["chemo_plan"] = [None if pd.isna(value) else CHEMO_PLANS[value] for value in regimen]
    frame["preop_pain_condition"] = [
        None if math.isnan(vas) else ("yes" if vas >= PERSISTENT_PAIN_VAS_MM else "no")
        for vas in frame["preop_vas_mm"]
    ]
    return frame


def _prepare_outcomes(
    outcomes: pd.DataFrame,
    arms: tuple[str, str],
    columns: Sequence[str],
    *,
    design: Design = DEFAULT_DESIGN,
) -> pd.DataFrame:
    """A typed copy of the ID columns and ``columns`` (as float), checked for integrity."""
    _check_columns(outcomes, "outcomes", (*OUTCOME_ID_COLUMNS, *columns))
    _check_arm_values(outcomes, "outcomes", arms)
    unknown = ~outcomes["visit"].isin(design.visits)
    if unknown.any():
        values = _listing(outcomes.loc[unknown, "visit"])
        raise ValueError(UNKNOWN_VISIT_ERROR.format(visits=list(design.visits), values=values))
    duplicated = outcomes.duplicated(["study_id", "visit"], keep=False)
    if duplicated.any():
        pairs = (
            outcomes.loc[duplicated, "study_id"].astype(str)
            + "/"
            + outcomes.loc[duplicated, "visit"].astype(str)
        )
        raise ValueError(DUPLICATE_VISIT_ERROR.format(values=_listing(pairs)))
    arms_per_participant = outcomes.groupby("study_id")["arm"].nunique()
    if (arms_per_participant > 1).any():
        values = _listing(arms_per_participant.index[arms_per_participant > 1])
        raise ValueError(ARM_CONFLICT_ERROR.format(values=values))
    frame = pd.DataFrame({column: outcomes[column].to_numpy() for column in OUTCOME_ID_COLUMNS})
    for column in dict.fromkeys(columns):
        frame[column] = _numeric(outcomes[column], "outcomes", column).to_numpy()
    return frame


def _numeric(series: pd.Series, frame: str, column: str) -> pd.Series:
    blank = series.map(lambda value: isinstance(value, str) and not value.strip())
    series = series.mask(blank)
    converted = pd.to_numeric(series, errors="coerce").astype("float64")
    bad = series.notna() & ~np.isfinite(converted)
    if bad.any():
        values = _listing(series[bad])
        raise ValueError(NOT_NUMERIC_ERROR.format(frame=frame, column=column, values=values))
    return converted


def _yes_no(value: Any, column: str) -> str | None:
    if _is_missing(value):
        return None
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _TRUE_STRINGS:
            return "yes"
        if key in _FALSE_STRINGS:
            return "no"
    elif isinstance(value, bool | np.bool_ | int | np.integer | float | np.floating):
        if value == 1:
            return "yes"
        if value == 0:
            return "no"
    raise ValueError(NOT_BOOLEAN_ERROR.format(column=column, values=repr(value)))


def _category(series: pd.Series, column: str, allowed: tuple[str, ...]) -> pd.Series:
    cleaned = series.map(lambda value: None if _is_missing(value) else value)
    unknown = cleaned.notna() & ~cleaned.isin(allowed)
    if unknown.any():
        values = _listing(cleaned[unknown])
        raise ValueError(
            UNKNOWN_CATEGORY_ERROR.format(column=column, allowed=list(allowed), values=values)
        )
    return cleaned


def _is_missing(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or bool(pd.isna(value))


def _listing(values: Iterable[Any]) -> str:
    return ", ".join(
        sorted({repr(value) if not isinstance(value, str) else value for value in values})
    )


# ---------------------------------------------------------------------------
# Two-arm comparisons
# ---------------------------------------------------------------------------


def _continuous_row(frame: pd.DataFrame, variable: str, arms: tuple[str, str]) -> dict[str, Any]:
    samples = [_finite(frame.loc[frame["arm"] == arm, variable]) for arm in arms]
    test, p = _compare_continuous(samples[0], samples[1])
    row: dict[str, Any] = {"kind": "continuous", "test": test, "p": p}
    for arm, values in zip(arms, samples, strict=True):
        row[arm] = _describe(values)
    return row


def _categorical_row(frame: pd.DataFrame, variable: str, arms: tuple[str, str]) -> dict[str, Any]:
    categories = CATEGORIES[variable]
    counts = {
        arm: {
            category: int(((frame["arm"] == arm) & (frame[variable] == category)).sum())
            for category in categories
        }
        for arm in arms
    }
    table = [[counts[arm][category] for category in categories] for arm in arms]
    test, p = _compare_categorical(table)
    return {"kind": "categorical", "test": test, "p": p, **counts}


def _compare_continuous(a: np.ndarray, b: np.ndarray) -> tuple[ContinuousTest, float | None]:
    test = choose_continuous_test(a, b)
    if a.size == 0 or b.size == 0:
        return test, None
    if test == "student_t":
        # choose_continuous_test only picks it with ≥ 3 varying values per arm: always defined.
        # equal_var=True is scipy's default too: dropping it cannot be seen (no mutate).
        return test, _float(stats.ttest_ind(a, b, equal_var=True).pvalue)  # pragma: no mutate
    if np.ptp(np.concatenate([a, b])) == 0:
        return test, 1.0
    # pragma: no mutate start (two-sided is scipy's default and any case is read the same)
    return test, _float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    # pragma: no mutate end


def _compare_categorical(table: Any) -> tuple[CategoricalTest, float | None]:
    reduced = _reduced_table(table)
    test = choose_categorical_test(reduced)
    rows, columns = reduced.shape
    if rows < 2:
        return test, None
    if columns < 2:
        return test, 1.0
    if test == "fisher":
        return test, _float(stats.fisher_exact(reduced).pvalue)
    # pragma: no mutate start (Yates's correction applies to 2x2 tables only; they go to Fisher)
    return test, _float(stats.chi2_contingency(reduced, correction=False).pvalue)
    # pragma: no mutate end


def _reduced_table(table: Any) -> np.ndarray:
    counts = np.asarray(table, dtype=float)
    if counts.ndim != 2 or not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(TABLE_ERROR)
    counts = counts[counts.sum(axis=1) > 0]
    return counts[:, counts.sum(axis=0) > 0]


# ---------------------------------------------------------------------------
# Repeated measures
# ---------------------------------------------------------------------------


def _mixed_anova(
    data: pd.DataFrame, arms: tuple[str, str], n_with_data: int, *, design: Design = DEFAULT_DESIGN
) -> dict[str, Any]:
    """Two-way mixed ANOVA on complete cases (``data`` holds only completers)."""
    per_arm = {arm: int(data.loc[data["arm"] == arm, "study_id"].nunique()) for arm in arms}
    n = sum(per_arm.values())
    name = "two-way mixed repeated-measures ANOVA, arm between and visit within"
    population = (
        f"completers n={n} ({', '.join(f'{arm} {count}' for arm, count in per_arm.items())}); "
        f"{n_with_data - n} participant(s) with a missing visit excluded (complete cases)"
    )
    if min(per_arm.values()) == 0 or n <= len(arms):
        reason = "needs completers in both arms and more completers than arms"
        return _no_anova(f"{name}; {population}; {_not(reason)}")
    # An F with a zero error term is undefined; pingouin would turn the rounding residue of
    # its subtractions into a meaningless p of 0 or 1, so zero error is detected here.
    y = data["value"].to_numpy(dtype=float)
    participant = data["study_id"].to_numpy()
    cells = pd.get_dummies(data["arm"] + "/" + data["visit"]).to_numpy(dtype=float)
    # Between-participant error: what of the cells' residual the participants explain.
    cell_residual = _residual(y, cells)
    between_error_zero = _negligible(cell_residual - _within(cell_residual, participant), y)
    within_error_zero = _negligible(_residual_beside_participants(y, cells, participant), y)
    if between_error_zero and within_error_zero:
        return _no_anova(f"{name}; {population}; {_not('the data have no residual variance')}")

    # pingouin pulls in matplotlib, seaborn and scikit-learn (~2 s); only this path needs it.
    import pingouin

    with warnings.catch_warnings():
        # pingouin still uses pandas idioms that newer pandas deprecates; nothing for us to act on.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pingouin")
        warnings.filterwarnings("ignore", category=FutureWarning, module="pingouin")
        warnings.simplefilter("ignore", RuntimeWarning)
        table = pingouin.mixed_anova(
            data=data,
            dv="value",
            within="visit",
            between="arm",
            subject="study_id",
            correction=True,
        )
    table = table.set_index("Source")
    epsilon = _cell(table, "visit", "eps")
    mauchly_w = _cell(table, "visit", "W_spher", "W-spher")
    mauchly_p = _cell(table, "visit", "p_spher", "p-spher")
    if n - len(arms) < len(design.visits) - 1 or mauchly_w is None or mauchly_p is None:
        # Fewer error degrees of freedom than contrasts: the covariance matrix is singular.
        sphericity = "Mauchly's test not computable (too few completers)"
        corrected = True
    else:
        sphericity = f"Mauchly W={_fmt(mauchly_w)}, p{_fmt_p(mauchly_p)}"
        corrected = mauchly_p < ALPHA
    within_p = ("p_unc", "p-unc")
    if corrected and epsilon is not None:
        within_p = ("p_GG_corr", "p-GG-corr")
        correction = (
            "Greenhouse–Geisser correction applied to visit and interaction "
            f"(epsilon={_fmt(epsilon)})"
        )
    elif corrected:
        correction = "Greenhouse–Geisser epsilon not computable, uncorrected p"
    else:
        correction = "sphericity assumed, uncorrected p"
    notes = [name + " (pingouin.mixed_anova)", population]
    p_arm = None if between_error_zero else _cell(table, "arm", "p_unc", "p-unc")
    if within_error_zero:
        p_visit = p_interaction = None
        notes.append(_not("visit and interaction have no within-participant residual variance"))
    else:
        p_visit = _cell(table, "visit", *within_p)
        p_interaction = _cell(table, "Interaction", *within_p)
        notes += [sphericity, correction]
    if between_error_zero:
        notes.append(_not("arm has no between-participant residual variance"))
    return {
        "arm": p_arm,
        "visit": p_visit,
        "interaction": p_interaction,
        "method": "; ".join(notes),
    }


def _residual(y: np.ndarray, design: np.ndarray) -> np.ndarray:
    """The residual of the least-squares fit of ``y`` on the columns of ``design``."""
    return y - design @ np.linalg.lstsq(design, y, rcond=None)[0]


def _within(values: np.ndarray, participant: np.ndarray) -> np.ndarray:
    """Values less their participant's mean (column by column): the residual of a fit on
    one indicator column per participant, without building those columns."""
    frame = pd.DataFrame(values)
    return (frame - frame.groupby(participant).transform("mean")).to_numpy().reshape(values.shape)


def _residual_beside_participants(
    y: np.ndarray, design: np.ndarray, participant: np.ndarray
) -> np.ndarray:
    """The residual of ``y`` on ``design`` plus one indicator per participant.

    By the Frisch–Waugh–Lovell theorem it is the residual of the participant-demeaned
    ``y`` on the participant-demeaned design: exact, and linear in the number of
    participants (a dense indicator matrix at 10,000 participants would take hours).
    """
    return _residual(_within(y, participant), _within(design, participant))


def _negligible(residual: np.ndarray, y: np.ndarray) -> bool:
    """Whether a residual is zero to rounding, relative to the spread of ``y``."""
    scale = float(((y - y.mean()) ** 2).sum())
    return scale == 0 or float((residual**2).sum()) <= 1e-12 * scale


def _mixed_model(
    data: pd.DataFrame, arms: tuple[str, str], *, design: Design = DEFAULT_DESIGN
) -> dict[str, Any]:
    """Linear mixed model on all available data, likelihood-ratio tests of each term."""
    per_arm = {arm: int(data.loc[data["arm"] == arm, "study_id"].nunique()) for arm in arms}
    description = (
        "linear mixed model on all available data (statsmodels MixedLM, maximum likelihood, "
        "random intercept per participant, fixed arm, visit and arm × visit; missing visits "
        f"assumed missing at random); {len(data)} observations from "
        f"{sum(per_arm.values())} participants "
        f"({', '.join(f'{arm} {count}' for arm, count in per_arm.items())})"
    )
    empty = [
        f"{arm}/{visit}"
        for arm in arms
        for visit in design.visits
        if not ((data["arm"] == arm) & (data["visit"] == visit)).any()
    ]
    if empty:
        return _no_anova(f"{description}; {_not('no data in ' + ', '.join(empty))}")
    first_arm = (data["arm"] == arms[0]).to_numpy(dtype=float)
    visit_dummies = [(data["visit"] == visit).to_numpy(dtype=float) for visit in design.follow_up]
    intercept = np.ones(len(data))
    designs = {
        "full": [intercept, first_arm, *visit_dummies, *(first_arm * d for d in visit_dummies)],
        "additive": [intercept, first_arm, *visit_dummies],
        "without_visit": [intercept, first_arm],
        "without_arm": [intercept, *visit_dummies],
    }
    y = data["value"].to_numpy(dtype=float)
    # A perfect fit within participants sends the residual variance to 0 and the likelihood
    # to infinity: no test is meaningful then.
    full = np.column_stack(designs["full"])
    if _negligible(_residual_beside_participants(y, full, data["study_id"].to_numpy()), y):
        reason = "the data have no within-participant residual variance"
        return _no_anova(f"{description}; {_not(reason)}")
    groups = data["study_id"].astype(str).to_numpy()
    fits = {name: _ml_fit(y, np.column_stack(columns), groups) for name, columns in designs.items()}
    if any(fit is None for fit in fits.values()):
        return _no_anova(f"{description}; {_not('the model could not be fitted')}")
    llf = {name: fit[0] for name, fit in fits.items() if fit is not None}
    p_interaction = _lr_p(llf["full"], llf["additive"], len(design.follow_up))
    p_visit = _lr_p(llf["additive"], llf["without_visit"], len(design.follow_up))
    p_arm = _lr_p(llf["additive"], llf["without_arm"], 1)
    method = (
        f"{description}; likelihood-ratio tests: interaction = full vs additive model, "
        "arm and visit = additive model vs the model without the term (type II)"
    )
    if not all(fit[1] for fit in fits.values() if fit is not None):
        method += "; warning: the optimiser did not report convergence for every model"
    return {"arm": p_arm, "visit": p_visit, "interaction": p_interaction, "method": method}


def _ml_fit(y: np.ndarray, exog: np.ndarray, groups: np.ndarray) -> tuple[float, bool] | None:
    """Maximum-likelihood log-likelihood and convergence flag of a random-intercept model.

    statsmodels' default gradient optimisers can stall when the intercept variance is near
    0; only then is the model refitted with Nelder–Mead (slower, derivative-free), keeping
    the better likelihood.
    """
    from statsmodels.regression.mixed_linear_model import MixedLM
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    best: tuple[float, bool] | None = None
    with warnings.catch_warnings():
        # Boundary fits warn routinely; convergence is read from the result instead.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="statsmodels")
        model = MixedLM(y, exog, groups=groups, exog_re=np.ones((len(y), 1)))
        for options in ({}, {"method": ["nm", "bfgs"]}):
            try:
                fit = model.fit(reml=False, **options)
                # The results compute llf lazily, so it is read inside the filter too.
                llf = _float(fit.llf)
            except (np.linalg.LinAlgError, ValueError):
                continue
            if llf is not None and (best is None or llf > best[0]):
                best = (llf, bool(fit.converged) or (best is not None and best[1]))
            if best is not None and best[1]:
                break
    return best


def _lr_p(llf_larger: float, llf_smaller: float, df: int) -> float | None:
    # An optimiser can leave the larger model a hair below the smaller one; the statistic is 0.
    statistic = max(0.0, 2.0 * (llf_larger - llf_smaller))
    return _float(stats.chi2.sf(statistic, df))


def _no_anova(method: str) -> dict[str, Any]:
    return {"arm": None, "visit": None, "interaction": None, "method": method}


def _not(reason: str) -> str:
    return ANOVA_NOT_COMPUTED.format(reason=reason)


def _cell(table: pd.DataFrame, row: str, *columns: str) -> float | None:
    """A number from a pingouin table, None if absent or NaN.

    pingouin drops all-NaN columns (zero-variance data) and renamed its columns between
    releases ("p-unc" → "p_unc"), so each is looked up under either spelling.
    """
    for column in columns:
        if column in table.columns:
            return _float(table.at[row, column])
    return None


def _visit_summaries(
    data: pd.DataFrame, arms: tuple[str, str], *, design: Design = DEFAULT_DESIGN
) -> dict[str, dict[str, Any]]:
    summaries: dict[str, dict[str, Any]] = {}
    for visit in design.visits:
        at_visit = data[data["visit"] == visit]
        summaries[visit] = {}
        for arm in arms:
            values = _finite(at_visit.loc[at_visit["arm"] == arm, "value"])
            summary = _describe(values)
            sd = summary["sd"]
            summary["sem"] = None if sd is None else sd / math.sqrt(values.size)
            summaries[visit][arm] = summary
    return summaries


def _arm_at_visit(
    data: pd.DataFrame, arms: tuple[str, str], *, design: Design = DEFAULT_DESIGN
) -> list[dict[str, Any]]:
    comparisons = []
    family = len(design.visits)  # BONFERRONI_FAMILY_ARM_AT_VISIT for the protocol
    for visit in design.visits:
        at_visit = data[data["visit"] == visit]
        first, second = (_finite(at_visit.loc[at_visit["arm"] == arm, "value"]) for arm in arms)
        comparisons.append({"visit": visit, **_student_t(first, second, family)})
    return comparisons


def _visit_vs_baseline(
    data: pd.DataFrame, arms: tuple[str, str], *, design: Design = DEFAULT_DESIGN
) -> list[dict[str, Any]]:
    wide = data.pivot(index="study_id", columns="visit", values="value")
    arm_of = data.drop_duplicates("study_id").set_index("study_id")["arm"]
    comparisons = []
    baseline = design.baseline
    family = len(design.follow_up)  # BONFERRONI_FAMILY_VISIT_VS_BASELINE for the protocol
    for arm in arms:
        in_arm = wide[arm_of.reindex(wide.index) == arm]
        for visit in design.follow_up:
            if visit in in_arm.columns and baseline in in_arm.columns:
                differences = _finite(in_arm[visit] - in_arm[baseline])
            else:
                differences = np.empty(0)
            comparisons.append({"arm": arm, "visit": visit, **_paired_t(differences, family)})
    return comparisons


def _student_t(a: np.ndarray, b: np.ndarray, family: int) -> dict[str, float | None]:
    """Pooled-variance t-test of mean(a) − mean(b) with a Bonferroni-adjusted interval."""
    difference = float(a.mean() - b.mean()) if a.size and b.size else None
    df = a.size + b.size - 2
    # Tested on the raw values: the SD of equal floats can come out as rounding residue.
    if difference is None or df < 1 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return _difference(difference, None, None, family)
    squares = float(((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum())
    se = math.sqrt(squares / df * (1 / a.size + 1 / b.size))
    return _difference(difference, se, df, family)


def _paired_t(differences: np.ndarray, family: int) -> dict[str, float | None]:
    """Paired t-test of the mean of ``differences`` with a Bonferroni-adjusted interval."""
    difference = float(differences.mean()) if differences.size else None
    if difference is None or differences.size < 2 or np.ptp(differences) == 0:
        return _difference(difference, None, None, family)
    se = float(differences.std(ddof=1)) / math.sqrt(differences.size)
    return _difference(difference, se, differences.size - 1, family)


def _difference(
    difference: float | None, se: float | None, df: int | None, family: int
) -> dict[str, float | None]:
    if difference is None or se is None or df is None or not se > 0:
        return {
            "mean_difference": difference,
            "ci_low": None,
            "ci_high": None,
            "p_bonferroni": None,
        }
    t = difference / se
    p = 2.0 * float(stats.t.sf(abs(t), df))
    half_width = float(stats.t.ppf(1.0 - ALPHA / (2 * family), df)) * se
    return {
        "mean_difference": difference,
        "ci_low": difference - half_width,
        "ci_high": difference + half_width,
        "p_bonferroni": min(1.0, p * family),
    }


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _finite(values: Iterable[float]) -> np.ndarray:
    """The finite values as a float array; NaN, None and pandas NA are missing."""
    if isinstance(values, pd.Series | pd.Index):
        array = values.to_numpy(dtype=float, na_value=np.nan)
    elif isinstance(values, np.ndarray):
        array = values.astype(float)
    else:
        array = np.asarray(list(values), dtype=float)
    return array[np.isfinite(array)]


def _describe(values: np.ndarray) -> dict[str, Any]:
    return {
        "n": int(values.size),
        "mean": _float(values.mean()) if values.size else None,
        "sd": _float(values.std(ddof=1)) if values.size >= 2 else None,
    }


def _float(value: Any) -> float | None:
    """A plain finite float, or None for NaN, infinity and None (JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _fmt_p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"={value:.3g}"
