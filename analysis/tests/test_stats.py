"""The DSMB statistics against independent computations on generated data.

Every p-value, interval and count of ``analysis.stats`` is recomputed here another way: scipy
for the two-arm tests, ordinary least squares and numpy sums of squares for the mixed ANOVA,
a hand-written maximum-likelihood fit for the linear mixed model, statsmodels' interval
helpers for the pairwise comparisons. The data are generated with fixed seeds, 60 per arm.
"""

import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy import stats as sps
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from analysis import stats

ARMS = ["MLT", "PLACEBO"]
N_PER_ARM = 60
REGIMENS = ["none", "C+A", "C+E", "C+T", "C+A+T", "C+E+T"]
SCORES = [*stats.OUTCOMES, "tics_total"]


# ---------------------------------------------------------------------------
# Generated trial data
# ---------------------------------------------------------------------------


def make_participants(seed: int = 20190601, n_per_arm: int = N_PER_ARM) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 2 * n_per_arm
    return pd.DataFrame(
        {
            "study_id": [f"P{i:03d}" for i in range(n)],
            "arm": ["MLT"] * n_per_arm + ["PLACEBO"] * n_per_arm,
            "age": rng.normal(49, 9, n).round(),
            # Skewed in the placebo arm only, so the test choice differs between variables.
            "bmi": np.concatenate(
                [rng.normal(24, 3, n_per_arm), 19 + rng.exponential(4, n_per_arm)]
            ),
            "comorbidity": rng.random(n) < 0.3,
            "surgical_site": rng.choice(["left", "right", "bilateral"], n, p=[0.45, 0.45, 0.1]),
            "preop_vas_mm": rng.exponential(18, n).round(),
            "procedure_type": rng.choice(["mastectomy", "lumpectomy"], n),
            "chemo_regimen": rng.choice(REGIMENS, n),
            "radiotherapy": rng.integers(0, 2, n),
            "hormone_therapy": rng.integers(0, 2, n),
            "targeted_therapy": rng.random(n) < 0.2,
        }
    )


def make_outcomes(
    seed: int = 20190602,
    n_per_arm: int = N_PER_ARM,
    missing: float = 0.1,
    visit_sd: tuple[float, ...] = (3, 3, 3, 3),
    mlt_effect: float = -2.0,
) -> pd.DataFrame:
    """Long outcomes with a participant effect, a falling MLT trend and random missing values."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(2 * n_per_arm):
        arm = ARMS[i // n_per_arm]
        person = rng.normal(0, 5)
        for j, visit in enumerate(stats.VISITS):
            row: dict[str, Any] = {"study_id": f"P{i:03d}", "arm": arm, "visit": visit}
            for score in SCORES:
                trend = mlt_effect * j if arm == "MLT" else 0.0
                value = 25 + person + trend + rng.normal(0, visit_sd[j])
                row[score] = np.nan if rng.random() < missing else value
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def participants() -> pd.DataFrame:
    return make_participants()


@pytest.fixture(scope="module")
def outcomes() -> pd.DataFrame:
    return make_outcomes()


@pytest.fixture(scope="module", params=stats.POPULATIONS)
def report(request, participants, outcomes) -> dict[str, Any]:
    return stats.dsmb_statistics(participants, outcomes, ARMS, request.param)


def values_of(frame: pd.DataFrame, arm: str, column: str, visit: str | None = None) -> np.ndarray:
    rows = frame["arm"] == arm
    if visit is not None:
        rows &= frame["visit"] == visit
    series = frame.loc[rows, column].astype(float)
    return series[series.notna()].to_numpy()


def completers(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Wide table (study_id × visit) of the participants with ``column`` at every visit."""
    wide = frame.pivot(index="study_id", columns="visit", values=column)[list(stats.VISITS)]
    wide = wide.dropna()
    wide["arm"] = frame.drop_duplicates("study_id").set_index("study_id")["arm"]
    return wide


# ---------------------------------------------------------------------------
# Test choice rules
# ---------------------------------------------------------------------------

RNG = np.random.default_rng(11)
NORMAL = RNG.normal(50, 10, 60)
NORMAL_2 = RNG.normal(52, 10, 60)
SKEWED = RNG.lognormal(0, 1.2, 60)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (NORMAL, NORMAL_2, "student_t"),
        (NORMAL, SKEWED, "mann_whitney"),
        (SKEWED, NORMAL, "mann_whitney"),
        (NORMAL, [1.0, 2.0], "mann_whitney"),  # fewer than 3 values: Shapiro–Wilk undefined
        (NORMAL, [], "mann_whitney"),
        (NORMAL, [4.0] * 10, "mann_whitney"),  # constant: normality cannot be assessed
        ([1.0, 2.0, 3.0], [2.0, 3.0, 4.0, float("nan")], "student_t"),  # NaN ignored
    ],
)
def test_continuous_test_choice(a, b, expected) -> None:
    assert stats.choose_continuous_test(a, b) == expected


def test_continuous_test_choice_follows_shapiro_wilk_in_each_arm() -> None:
    for seed in range(20):
        rng = np.random.default_rng(seed)
        a, b = rng.normal(0, 1, 25), rng.gamma(2, 1, 25)
        normal = sps.shapiro(a).pvalue >= 0.05 and sps.shapiro(b).pvalue >= 0.05
        assert stats.choose_continuous_test(a, b) == ("student_t" if normal else "mann_whitney")


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ([[10, 5], [7, 9]], "fisher"),
        ([[10, 5, 3], [7, 9, 4]], "chi_square"),
        ([[10, 5, 0], [7, 9, 0]], "fisher"),  # empty category dropped: 2×2
        ([[10, 5], [0, 0]], "fisher"),  # arm without data dropped: 1×2
        ([[10, 0], [7, 0]], "fisher"),  # one category used: 2×1
        ([[10, 5], [7, 9], [3, 4]], "chi_square"),
        ([[0, 0, 0], [0, 0, 0]], "fisher"),
    ],
)
def test_categorical_test_choice(table, expected) -> None:
    assert stats.choose_categorical_test(table) == expected
    assert stats.choose_categorical_test(pd.DataFrame(table)) == expected


# ---------------------------------------------------------------------------
# Baseline table
# ---------------------------------------------------------------------------


def derived_participants(participants: pd.DataFrame) -> pd.DataFrame:
    frame = participants.copy()
    frame["preop_pain_condition"] = np.where(frame["preop_vas_mm"] >= 30, "yes", "no")
    plan = {"C+A": "two_drug", "C+E": "two_drug", "C+T": "two_drug"}
    plan |= {"C+A+T": "three_drug", "C+E+T": "three_drug"}
    frame["chemo_plan"] = frame["chemo_regimen"].map(plan)
    for column in ("comorbidity", "radiotherapy", "hormone_therapy", "targeted_therapy"):
        frame[column] = np.where(frame[column].astype(bool), "yes", "no")
    return frame


@pytest.mark.parametrize("variable", stats.CONTINUOUS_VARIABLES)
def test_baseline_continuous_rows_match_scipy(participants, variable) -> None:
    row = stats.baseline_table(participants, ARMS)[variable]
    a, b = (values_of(participants, arm, variable) for arm in ARMS)
    normal = all(sps.shapiro(x).pvalue >= 0.05 for x in (a, b))
    if normal:
        expected_test, p = "student_t", sps.ttest_ind(a, b, equal_var=True).pvalue
    else:
        expected_test, p = "mann_whitney", sps.mannwhitneyu(a, b).pvalue
    assert row["kind"] == "continuous"
    assert row["test"] == expected_test
    assert row["p"] == pytest.approx(p, rel=1e-12)
    for arm, values in zip(ARMS, (a, b), strict=True):
        assert row[arm] == {
            "n": len(values),
            "mean": pytest.approx(values.mean()),
            "sd": pytest.approx(pd.Series(values).std()),
        }


def test_generated_baseline_exercises_both_continuous_tests(participants) -> None:
    table = stats.baseline_table(participants, ARMS)
    assert table["age"]["test"] == "student_t"
    assert table["bmi"]["test"] == "mann_whitney"


@pytest.mark.parametrize("variable", stats.CATEGORICAL_VARIABLES)
def test_baseline_categorical_rows_match_scipy(participants, variable) -> None:
    row = stats.baseline_table(participants, ARMS)[variable]
    frame = derived_participants(participants)
    counts = pd.crosstab(frame["arm"], frame[variable])
    counts = counts.reindex(index=ARMS, columns=list(stats.CATEGORIES[variable]), fill_value=0)
    table = counts.to_numpy()
    if table.shape == (2, 2):
        expected_test, p = "fisher", sps.fisher_exact(table).pvalue
    else:
        # Pearson's chi-square without Yates (which scipy would only apply at 1 df anyway).
        expected_test, p = "chi_square", sps.chi2_contingency(table, correction=False).pvalue
    assert row["kind"] == "categorical"
    assert row["test"] == expected_test
    assert row["p"] == pytest.approx(p, rel=1e-12)
    for arm in ARMS:
        assert row[arm] == counts.loc[arm].to_dict()


def test_chemo_plan_leaves_out_no_chemotherapy(participants) -> None:
    row = stats.baseline_table(participants, ARMS)["chemo_plan"]
    for arm in ARMS:
        regimens = participants.loc[participants["arm"] == arm, "chemo_regimen"]
        assert sum(row[arm].values()) == (regimens != "none").sum()
        assert row[arm]["three_drug"] == regimens.isin(["C+A+T", "C+E+T"]).sum()


def small_participants(**overrides: list[Any]) -> pd.DataFrame:
    """Eight participants, four per arm, every column valid; ``overrides`` replace columns."""
    columns: dict[str, list[Any]] = {
        "study_id": [f"S{i}" for i in range(8)],
        "arm": ["MLT"] * 4 + ["PLACEBO"] * 4,
        "age": [40, 45, 50, 55, 42, 47, 52, 58],
        "bmi": [22.0, 23.5, 25.0, 21.0, 24.0, 26.5, 23.0, 22.5],
        "comorbidity": [0, 1, 0, 0, 1, 1, 0, 0],
        "surgical_site": ["left", "right", "left", "bilateral", "right", "left", "left", "right"],
        "preop_vas_mm": [29, 30, 31, 0, 10, 30, 60, None],
        "procedure_type": ["mastectomy", "lumpectomy"] * 4,
        "chemo_regimen": ["none", "C+A", "C+E+T", "C+T", "none", "C+A+T", "C+E", "none"],
        "radiotherapy": [True, False, True, True, False, False, True, False],
        "hormone_therapy": ["yes", "no", "1", "0", "true", "false", None, ""],
        "targeted_therapy": [0.0, 1.0, 0.0, np.nan, 0.0, 0.0, 1.0, 0.0],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


def test_preop_pain_condition_counts_vas_30_as_pain() -> None:
    row = stats.baseline_table(small_participants(), ARMS)["preop_pain_condition"]
    assert row["MLT"] == {"yes": 2, "no": 2}  # 29 no, 30 yes, 31 yes, 0 no
    assert row["PLACEBO"] == {"yes": 2, "no": 1}  # missing VAS left out


def test_boolean_spellings_and_missing_values() -> None:
    row = stats.baseline_table(small_participants(), ARMS)["hormone_therapy"]
    assert row["MLT"] == {"yes": 2, "no": 2}
    assert row["PLACEBO"] == {"yes": 1, "no": 1}


def test_categorical_row_with_a_single_category_has_p_one() -> None:
    table = stats.baseline_table(small_participants(comorbidity=[0] * 8), ARMS)
    assert table["comorbidity"]["test"] == "fisher"
    assert table["comorbidity"]["p"] == 1.0
    assert table["comorbidity"]["MLT"] == {"yes": 0, "no": 4}


def test_baseline_with_an_empty_arm_has_no_p_values() -> None:
    only_mlt = small_participants().iloc[:4]
    table = stats.baseline_table(only_mlt, ARMS)
    for variable in stats.BASELINE_VARIABLES:
        assert table[variable]["p"] is None, variable
    assert table["age"]["PLACEBO"] == {"n": 0, "mean": None, "sd": None}
    assert table["surgical_site"]["PLACEBO"] == {"left": 0, "right": 0, "bilateral": 0}


def test_baseline_constant_values_use_mann_whitney_with_p_one() -> None:
    row = stats.baseline_table(small_participants(age=[50] * 8), ARMS)["age"]
    assert row["test"] == "mann_whitney"
    assert row["p"] == 1.0
    assert row["MLT"] == {"n": 4, "mean": 50.0, "sd": 0.0}


def test_baseline_single_participant_arm() -> None:
    frame = small_participants().iloc[:5]
    row = stats.baseline_table(frame, ARMS)["age"]
    assert row["test"] == "mann_whitney"
    assert row["p"] == pytest.approx(sps.mannwhitneyu([40, 45, 50, 55], [42]).pvalue)
    assert row["PLACEBO"] == {"n": 1, "mean": 42.0, "sd": None}


# ---------------------------------------------------------------------------
# Persistent pain and TICS
# ---------------------------------------------------------------------------


def test_persistent_pain_matches_fisher_exact(outcomes) -> None:
    result = stats.persistent_pain(outcomes, ARMS)
    assert set(result) == {"m3", "m6"}
    for visit in ("m3", "m6"):
        table = []
        for arm in ARMS:
            vas = values_of(outcomes, arm, "vas_mm", visit)
            events = int((vas >= 30).sum())
            assert result[visit][arm] == {"events": events, "n": len(vas)}
            table.append([events, len(vas) - events])
        assert result[visit]["test"] == "fisher"
        assert result[visit]["p"] == pytest.approx(sps.fisher_exact(table).pvalue, rel=1e-12)


def test_persistent_pain_counts_vas_30_as_an_event() -> None:
    frame = pd.DataFrame(
        {
            "study_id": ["A", "B", "C", "D", "E", "F"],
            "arm": ["MLT", "MLT", "MLT", "PLACEBO", "PLACEBO", "PLACEBO"],
            "visit": ["m3"] * 6,
            "vas_mm": [29, 30, None, 31, 30, 100],
        }
    )
    result = stats.persistent_pain(frame, ARMS)
    assert result["m3"]["MLT"] == {"events": 1, "n": 2}
    assert result["m3"]["PLACEBO"] == {"events": 3, "n": 3}
    assert result["m3"]["p"] == pytest.approx(sps.fisher_exact([[1, 1], [3, 0]]).pvalue)
    assert result["m6"] == {
        "MLT": {"events": 0, "n": 0},
        "PLACEBO": {"events": 0, "n": 0},
        "test": "fisher",
        "p": None,
    }


def test_tics_matches_scipy(outcomes) -> None:
    result = stats.tics_comparison(outcomes, ARMS)
    a, b = (values_of(outcomes, arm, "tics_total", "m6") for arm in ARMS)
    normal = all(sps.shapiro(x).pvalue >= 0.05 for x in (a, b))
    assert result["test"] == ("student_t" if normal else "mann_whitney")
    expected = sps.ttest_ind(a, b).pvalue if normal else sps.mannwhitneyu(a, b).pvalue
    assert result["p"] == pytest.approx(expected, rel=1e-12)
    assert result["MLT"]["n"] == len(a)
    assert result["PLACEBO"]["sd"] == pytest.approx(np.std(b, ddof=1))


# ---------------------------------------------------------------------------
# Repeated measures: mixed ANOVA on completers
# ---------------------------------------------------------------------------


def orthonormal_contrasts(k: int) -> np.ndarray:
    """k × (k − 1) orthonormal contrasts (normalised Helmert)."""
    contrasts = np.zeros((k, k - 1))
    for j in range(1, k):
        contrasts[:j, j - 1] = 1.0
        contrasts[j, j - 1] = -j
        contrasts[:, j - 1] /= np.linalg.norm(contrasts[:, j - 1])
    return contrasts


def hand_mixed_anova(wide: pd.DataFrame) -> dict[str, float]:
    """Split-plot ANOVA from OLS fits with participant dummies, and Mauchly/GG by hand."""
    y_wide = wide[list(stats.VISITS)].to_numpy()
    mlt = (wide["arm"] == "MLT").to_numpy(dtype=float)
    n, k = y_wide.shape
    y = y_wide.ravel()
    participant = np.kron(np.eye(n), np.ones((k, 1)))
    visit = np.tile(np.eye(k)[:, 1:], (n, 1))
    interaction = visit * np.repeat(mlt, k)[:, None]

    def rss(*blocks: np.ndarray) -> float:
        return float(OLS(y, np.column_stack(blocks)).fit().ssr)

    rss_subject, rss_additive = rss(participant), rss(participant, visit)
    rss_full = rss(participant, visit, interaction)
    df_error = (n - 2) * (k - 1)
    f_visit = (rss_subject - rss_additive) / (k - 1) / (rss_full / df_error)
    f_interaction = (rss_additive - rss_full) / (k - 1) / (rss_full / df_error)
    # Between participants: one-way ANOVA of the participant means.
    means = y_wide.mean(axis=1)
    p_arm = sps.f_oneway(means[mlt == 1], means[mlt == 0]).pvalue

    # Sphericity on the pooled within-arm covariance of orthonormal contrasts.
    residual = y_wide.copy()
    for flag in (0, 1):
        residual[mlt == flag] -= residual[mlt == flag].mean(axis=0)
    contrasts = orthonormal_contrasts(k)
    m = contrasts.T @ (residual.T @ residual / (n - 2)) @ contrasts
    d = k - 1
    epsilon = min(1.0, np.trace(m) ** 2 / (d * np.trace(m @ m)))
    mauchly_w = np.linalg.det(m) / (np.trace(m) / d) ** d
    # First-order chi-square approximation (Mauchly 1940): enough to check the decision.
    chi_square = -((n - 2) - (2 * d**2 + d + 2) / (6 * d)) * math.log(mauchly_w)
    p_mauchly = sps.chi2.sf(chi_square, d * (d + 1) / 2 - 1)
    df1, df2 = k - 1, df_error
    return {
        "arm": p_arm,
        "visit": sps.f.sf(f_visit, df1, df2),
        "interaction": sps.f.sf(f_interaction, df1, df2),
        "visit_gg": sps.f.sf(f_visit, epsilon * df1, epsilon * df2),
        "interaction_gg": sps.f.sf(f_interaction, epsilon * df1, epsilon * df2),
        "epsilon": epsilon,
        "mauchly_w": mauchly_w,
        "mauchly_p": p_mauchly,
    }


def test_mixed_anova_under_sphericity_matches_ols() -> None:
    frame = make_outcomes(seed=5, missing=0.1)
    result = stats.outcome_analysis(frame, "gad7_total", ARMS, "completers")
    hand = hand_mixed_anova(completers(frame, "gad7_total"))
    assert hand["mauchly_p"] > 0.05
    assert result["anova"]["arm"] == pytest.approx(hand["arm"], rel=1e-9)
    assert result["anova"]["visit"] == pytest.approx(hand["visit"], rel=1e-9)
    assert result["anova"]["interaction"] == pytest.approx(hand["interaction"], rel=1e-9)
    assert "sphericity assumed" in result["anova"]["method"]
    assert "Greenhouse" not in result["anova"]["method"]


def test_mixed_anova_applies_greenhouse_geisser_when_mauchly_rejects() -> None:
    # Spread that grows over the visits breaks sphericity.
    frame = make_outcomes(seed=6, missing=0.05, visit_sd=(1, 3, 7, 12), mlt_effect=-1.0)
    result = stats.outcome_analysis(frame, "phq9_total", ARMS, "completers")
    wide = completers(frame, "phq9_total")
    hand = hand_mixed_anova(wide)
    assert hand["mauchly_p"] < 0.001
    anova = result["anova"]
    assert anova["arm"] == pytest.approx(hand["arm"], rel=1e-9)
    assert anova["visit"] == pytest.approx(hand["visit_gg"], rel=1e-9)
    assert anova["interaction"] == pytest.approx(hand["interaction_gg"], rel=1e-9)
    assert anova["interaction"] != pytest.approx(hand["interaction"], rel=1e-3)
    assert "Greenhouse–Geisser correction applied" in anova["method"]
    assert f"completers n={len(wide)}" in anova["method"]
    assert f"W={hand['mauchly_w']:.3g}" in anova["method"]
    assert f"epsilon={hand['epsilon']:.3g}" in anova["method"]


def test_completers_population_summaries_use_only_completers(outcomes) -> None:
    result = stats.outcome_analysis(outcomes, "sf_mpq_total", ARMS, "completers")
    wide = completers(outcomes, "sf_mpq_total")
    for visit in stats.VISITS:
        for arm in ARMS:
            values = wide.loc[wide["arm"] == arm, visit]
            summary = result["visits"][visit][arm]
            assert summary["n"] == len(values)
            assert summary["mean"] == pytest.approx(values.mean())
            assert summary["sd"] == pytest.approx(values.std())
            assert summary["sem"] == pytest.approx(values.sem())


# ---------------------------------------------------------------------------
# Repeated measures: linear mixed model on all available data
# ---------------------------------------------------------------------------


def hand_ml_loglik(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> float:
    """Maximised log-likelihood of a random-intercept model, by scipy over the two variances.

    For given variances the fixed effects are the GLS estimate; each participant's covariance
    σ²I + τ²J is inverted in closed form, so no mixed-model library is involved.
    """
    _, group = np.unique(groups, return_inverse=True)
    sizes = np.bincount(group).astype(float)
    x_sums = np.zeros((len(sizes), x.shape[1]))
    np.add.at(x_sums, group, x)
    y_sums = np.bincount(group, weights=y)

    def negative_loglik(log_variances: np.ndarray) -> float:
        sigma2, tau2 = np.exp(log_variances)
        shrink = tau2 / (sigma2 + sizes * tau2)
        xtvx = x.T @ x - (x_sums.T * shrink) @ x_sums
        xtvy = x.T @ y - (x_sums.T * shrink) @ y_sums
        beta = np.linalg.solve(xtvx, xtvy)
        residual = y - x @ beta
        residual_sums = np.bincount(group, weights=residual)
        quadratic = (residual @ residual - (shrink * residual_sums**2).sum()) / sigma2
        log_det = ((sizes - 1) * math.log(sigma2) + np.log(sigma2 + sizes * tau2)).sum()
        return 0.5 * (len(y) * math.log(2 * math.pi) + log_det + quadratic)

    start = np.full(2, math.log(np.var(y) / 2))
    fit = optimize.minimize(
        negative_loglik,
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 5000},
    )
    return -float(fit.fun)


@pytest.mark.parametrize("missing", [0.0, 0.15])
def test_mixed_model_likelihood_ratio_tests_match_hand_ml_fit(missing) -> None:
    frame = make_outcomes(seed=9, missing=missing, mlt_effect=-1.0)
    result = stats.outcome_analysis(frame, "psqi_global", ARMS, "available")
    data = frame[frame["psqi_global"].notna()]
    y = data["psqi_global"].to_numpy()
    mlt = (data["arm"] == "MLT").to_numpy(dtype=float)
    visits = np.column_stack(
        [(data["visit"] == v).to_numpy(dtype=float) for v in ("m1", "m3", "m6")]
    )
    one = np.ones((len(y), 1))
    groups = data["study_id"].to_numpy()
    llf = {
        "full": hand_ml_loglik(
            y, np.column_stack([one, mlt, visits, visits * mlt[:, None]]), groups
        ),
        "additive": hand_ml_loglik(y, np.column_stack([one, mlt, visits]), groups),
        "arm_only": hand_ml_loglik(y, np.column_stack([one, mlt]), groups),
        "visit_only": hand_ml_loglik(y, np.column_stack([one, visits]), groups),
    }
    expected = {
        "interaction": sps.chi2.sf(2 * (llf["full"] - llf["additive"]), 3),
        "visit": sps.chi2.sf(2 * (llf["additive"] - llf["arm_only"]), 3),
        "arm": sps.chi2.sf(2 * (llf["additive"] - llf["visit_only"]), 1),
    }
    for term, p in expected.items():
        assert result["anova"][term] == pytest.approx(p, rel=1e-3, abs=1e-9), term
    method = result["anova"]["method"]
    assert method.startswith("linear mixed model on all available data")
    assert f"{len(data)} observations" in method
    assert "likelihood-ratio" in method


def test_available_population_summaries_use_every_value(outcomes) -> None:
    result = stats.outcome_analysis(outcomes, "ppi", ARMS, "available")
    for visit in stats.VISITS:
        for arm in ARMS:
            values = values_of(outcomes, arm, "ppi", visit)
            assert result["visits"][visit][arm]["n"] == len(values)
            assert result["visits"][visit][arm]["mean"] == pytest.approx(values.mean())
    completer_n = result["visits"]["m6"]["MLT"]["n"]
    assert completer_n > len(completers(outcomes, "ppi").query("arm == 'MLT'"))


# ---------------------------------------------------------------------------
# Pairwise comparisons
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("population", stats.POPULATIONS)
def test_arm_at_visit_matches_scipy_and_statsmodels(outcomes, population) -> None:
    result = stats.outcome_analysis(outcomes, "vas_mm", ARMS, population)
    frame = outcomes
    if population == "completers":
        kept = completers(outcomes, "vas_mm").index
        frame = outcomes[outcomes["study_id"].isin(kept)]
    assert [row["visit"] for row in result["arm_at_visit"]] == list(stats.VISITS)
    for row in result["arm_at_visit"]:
        a, b = (values_of(frame, arm, "vas_mm", row["visit"]) for arm in ARMS)
        low, high = CompareMeans(DescrStatsW(a), DescrStatsW(b)).tconfint_diff(
            alpha=0.05 / 4, usevar="pooled"
        )
        assert row["mean_difference"] == pytest.approx(a.mean() - b.mean())
        assert row["ci_low"] == pytest.approx(low)
        assert row["ci_high"] == pytest.approx(high)
        p = sps.ttest_ind(a, b, equal_var=True).pvalue
        assert row["p_bonferroni"] == pytest.approx(min(1.0, 4 * p), rel=1e-9)


@pytest.mark.parametrize("population", stats.POPULATIONS)
def test_visit_vs_baseline_matches_paired_t(outcomes, population) -> None:
    result = stats.outcome_analysis(outcomes, "gad7_total", ARMS, population)
    wide = outcomes.pivot(index="study_id", columns="visit", values="gad7_total")
    if population == "completers":
        wide = wide.dropna()
    arm_of = outcomes.drop_duplicates("study_id").set_index("study_id")["arm"]
    expected_order = [(arm, visit) for arm in ARMS for visit in ("m1", "m3", "m6")]
    assert [(row["arm"], row["visit"]) for row in result["visit_vs_baseline"]] == expected_order
    for row in result["visit_vs_baseline"]:
        pairs = wide.loc[arm_of.reindex(wide.index) == row["arm"], ["baseline", row["visit"]]]
        pairs = pairs.dropna()
        later, before = pairs[row["visit"]].to_numpy(), pairs["baseline"].to_numpy()
        low, high = DescrStatsW(later - before).tconfint_mean(alpha=0.05 / 3)
        assert row["mean_difference"] == pytest.approx((later - before).mean())
        assert row["ci_low"] == pytest.approx(low)
        assert row["ci_high"] == pytest.approx(high)
        p = sps.ttest_rel(later, before).pvalue
        assert row["p_bonferroni"] == pytest.approx(min(1.0, 3 * p), rel=1e-9)


def test_bonferroni_is_capped_at_one() -> None:
    frame = make_outcomes(seed=3, missing=0.0, mlt_effect=0.0)
    # Same baseline values in both arms (order shuffled): raw p = 1, times 4 would be 4.
    baseline = frame["visit"] == "baseline"
    mlt_values = frame.loc[baseline & (frame["arm"] == "MLT"), "ppi"].to_numpy()
    frame.loc[baseline & (frame["arm"] == "PLACEBO"), "ppi"] = mlt_values[::-1]
    result = stats.outcome_analysis(frame, "ppi", ARMS, "available")
    at_baseline = result["arm_at_visit"][0]
    assert at_baseline["mean_difference"] == pytest.approx(0.0, abs=1e-12)
    assert at_baseline["p_bonferroni"] == 1.0
    every_p = [row["p_bonferroni"] for row in result["arm_at_visit"] + result["visit_vs_baseline"]]
    assert all(0.0 <= p <= 1.0 for p in every_p)


def test_mean_differences_are_mlt_minus_placebo_and_visit_minus_baseline() -> None:
    rows = []
    for i in range(40):
        arm = ARMS[i % 2]
        for j, visit in enumerate(stats.VISITS):
            # MLT falls by 10 a visit, placebo rises by 1: MLT is clearly lower after baseline.
            value = 50 + (i % 5) + (-10 * j if arm == "MLT" else j) + 0.1 * ((i * j) % 3)
            rows.append({"study_id": f"X{i}", "arm": arm, "visit": visit, "vas_mm": value})
    frame = pd.DataFrame(rows)
    for population in stats.POPULATIONS:
        result = stats.outcome_analysis(frame, "vas_mm", ARMS, population)
        for row in result["arm_at_visit"][1:]:
            assert row["mean_difference"] < 0
            assert row["ci_high"] < 0
        for row in result["visit_vs_baseline"]:
            if row["arm"] == "MLT":
                assert row["mean_difference"] < 0
            else:
                assert row["mean_difference"] > 0
        m6 = result["arm_at_visit"][3]
        assert m6["mean_difference"] == pytest.approx(-30 - 3, abs=0.2)


def test_reversed_arm_order_flips_the_sign(outcomes) -> None:
    forward = stats.outcome_analysis(outcomes, "vas_mm", ARMS, "available")
    reverse = stats.outcome_analysis(outcomes, "vas_mm", ARMS[::-1], "available")
    for one, other in zip(forward["arm_at_visit"], reverse["arm_at_visit"], strict=True):
        assert one["mean_difference"] == pytest.approx(-other["mean_difference"])
        assert one["ci_low"] == pytest.approx(-other["ci_high"])
        assert one["p_bonferroni"] == pytest.approx(other["p_bonferroni"])


# ---------------------------------------------------------------------------
# The JSON contract
# ---------------------------------------------------------------------------

SUMMARY_KEYS = {"n", "mean", "sd"}
ANOVA_KEYS = {"arm", "visit", "interaction", "method"}
ARM_AT_VISIT_KEYS = {"visit", "mean_difference", "ci_low", "ci_high", "p_bonferroni"}
VISIT_VS_BASELINE_KEYS = ARM_AT_VISIT_KEYS | {"arm"}


def is_p(value: Any) -> bool:
    return value is None or (type(value) is float and 0.0 <= value <= 1.0)


def is_number(value: Any) -> bool:
    return value is None or type(value) is float


def test_report_is_strict_json_with_the_contract_keys(report) -> None:
    json.dumps(report, allow_nan=False)
    assert set(report) == {"population", "arms", "baseline", "persistent_pain", "outcomes", "tics"}
    assert report["arms"] == ARMS
    assert report["population"] in stats.POPULATIONS

    assert set(report["baseline"]) == set(stats.BASELINE_VARIABLES)
    for variable, row in report["baseline"].items():
        assert set(row) == {"kind", "test", "p", *ARMS}, variable
        assert is_p(row["p"])
        if row["kind"] == "continuous":
            assert row["test"] in {"student_t", "mann_whitney"}
            for arm in ARMS:
                assert set(row[arm]) == SUMMARY_KEYS
                assert type(row[arm]["n"]) is int
                assert is_number(row[arm]["mean"]) and is_number(row[arm]["sd"])
        else:
            assert row["kind"] == "categorical"
            assert row["test"] in {"fisher", "chi_square"}
            for arm in ARMS:
                assert set(row[arm]) == set(stats.CATEGORIES[variable])
                assert all(type(count) is int for count in row[arm].values())

    assert set(report["persistent_pain"]) == {"m3", "m6"}
    for row in report["persistent_pain"].values():
        assert set(row) == {"test", "p", *ARMS}
        assert row["test"] == "fisher" and is_p(row["p"])
        for arm in ARMS:
            assert set(row[arm]) == {"events", "n"}
            assert all(type(count) is int for count in row[arm].values())

    assert set(report["outcomes"]) == set(stats.OUTCOMES)
    for analysis in report["outcomes"].values():
        assert set(analysis) == {"visits", "anova", "arm_at_visit", "visit_vs_baseline"}
        assert set(analysis["visits"]) == set(stats.VISITS)
        for by_arm in analysis["visits"].values():
            assert set(by_arm) == set(ARMS)
            for summary in by_arm.values():
                assert set(summary) == SUMMARY_KEYS | {"sem"}
                assert type(summary["n"]) is int
        assert set(analysis["anova"]) == ANOVA_KEYS
        assert type(analysis["anova"]["method"]) is str
        assert all(is_p(analysis["anova"][term]) for term in ("arm", "visit", "interaction"))
        assert len(analysis["arm_at_visit"]) == 4
        for row in analysis["arm_at_visit"]:
            assert set(row) == ARM_AT_VISIT_KEYS
            assert is_p(row["p_bonferroni"]) and is_number(row["ci_low"])
        assert len(analysis["visit_vs_baseline"]) == 6
        for row in analysis["visit_vs_baseline"]:
            assert set(row) == VISIT_VS_BASELINE_KEYS
            assert is_p(row["p_bonferroni"]) and is_number(row["ci_high"])

    assert set(report["tics"]) == {"test", "p", *ARMS}
    assert report["tics"]["test"] in {"student_t", "mann_whitney"}
    assert is_p(report["tics"]["p"])


def test_report_method_names_its_population(report) -> None:
    method = report["outcomes"]["sf_mpq_total"]["anova"]["method"]
    if report["population"] == "completers":
        assert "repeated-measures ANOVA" in method
        assert "complete cases" in method
    else:
        assert "linear mixed model on all available data" in method
    assert all(value is not None for value in report["outcomes"]["vas_mm"]["anova"].values())


# ---------------------------------------------------------------------------
# Degenerate data: None, never a crash
# ---------------------------------------------------------------------------


def outcome_rows(values: dict[str, list[float | None]], arms: list[str]) -> pd.DataFrame:
    """One participant per entry of ``arms``; ``values[visit][i]`` is participant i's score."""
    rows = []
    for i, arm in enumerate(arms):
        for visit in stats.VISITS:
            rows.append({"study_id": f"D{i}", "arm": arm, "visit": visit, "ppi": values[visit][i]})
    return pd.DataFrame(rows, columns=["study_id", "arm", "visit", "ppi"])


@pytest.mark.parametrize("population", stats.POPULATIONS)
def test_no_completers(population) -> None:
    arms = ["MLT", "MLT", "PLACEBO", "PLACEBO"]
    values = {
        "baseline": [1, 2, 3, None],
        "m1": [None, 2, 3, 4],
        "m3": [1, None, 3, 4],
        "m6": [1, 2, None, 4],
    }
    result = stats.outcome_analysis(outcome_rows(values, arms), "ppi", ARMS, population)
    json.dumps(result, allow_nan=False)
    if population == "completers":
        assert result["anova"]["arm"] is None
        assert "not computed" in result["anova"]["method"]
        assert result["visits"]["m1"]["MLT"] == {"n": 0, "mean": None, "sd": None, "sem": None}
        assert result["arm_at_visit"][0]["mean_difference"] is None


@pytest.mark.parametrize("population", stats.POPULATIONS)
def test_empty_arm(population, outcomes) -> None:
    frame = outcomes.copy()
    frame.loc[frame["arm"] == "PLACEBO", "ppi"] = np.nan
    result = stats.outcome_analysis(frame, "ppi", ARMS, population)
    json.dumps(result, allow_nan=False)
    assert result["anova"] == {
        "arm": None,
        "visit": None,
        "interaction": None,
        "method": result["anova"]["method"],
    }
    assert "not computed" in result["anova"]["method"]
    assert all(row["p_bonferroni"] is None for row in result["arm_at_visit"])
    assert all(row["mean_difference"] is None for row in result["arm_at_visit"])
    mlt_rows = [row for row in result["visit_vs_baseline"] if row["arm"] == "MLT"]
    assert all(row["p_bonferroni"] is not None for row in mlt_rows)


@pytest.mark.parametrize("population", stats.POPULATIONS)
def test_constant_values(population) -> None:
    arms = ["MLT"] * 5 + ["PLACEBO"] * 5
    values = {visit: [3.0] * 10 for visit in stats.VISITS}
    result = stats.outcome_analysis(outcome_rows(values, arms), "ppi", ARMS, population)
    json.dumps(result, allow_nan=False)
    assert set(result["anova"].values()) == {None, result["anova"]["method"]}
    assert "no" in result["anova"]["method"]
    assert "residual variance" in result["anova"]["method"]
    assert result["arm_at_visit"][1] == {
        "visit": "m1",
        "mean_difference": 0.0,
        "ci_low": None,
        "ci_high": None,
        "p_bonferroni": None,
    }
    assert result["visits"]["m3"]["MLT"] == {"n": 5, "mean": 3.0, "sd": 0.0, "sem": 0.0}


def test_exact_fit_within_participants_has_no_visit_test() -> None:
    # Every participant follows the same visit profile exactly: no within-participant error.
    arms = ["MLT", "PLACEBO", "PLACEBO", "PLACEBO", "MLT"]
    offsets = [1.0, 2.0, 2.5, 4.0, 0.0]
    values = {visit: [j + o for o in offsets] for j, visit in enumerate(stats.VISITS)}
    frame = outcome_rows(values, arms)
    completers_result = stats.outcome_analysis(frame, "ppi", ARMS, "completers")["anova"]
    assert completers_result["visit"] is None
    assert completers_result["interaction"] is None
    means = np.array(offsets) + 1.5
    mlt = np.array([arm == "MLT" for arm in arms])
    expected_arm = sps.f_oneway(means[mlt], means[~mlt]).pvalue
    assert completers_result["arm"] == pytest.approx(expected_arm)
    assert "no within-participant residual variance" in completers_result["method"]
    available = stats.outcome_analysis(frame, "ppi", ARMS, "available")["anova"]
    assert available["visit"] is None
    assert (
        "not computed: the data have no within-participant residual variance"
        in (available["method"])
    )


def test_equal_values_that_do_not_average_exactly_have_no_p() -> None:
    # The mean of seven 0.1s is not exactly 0.1 in floating point; the SD is not exactly 0.
    arms = ["MLT"] * 7 + ["PLACEBO"] * 7
    values = {visit: [0.1] * 14 for visit in stats.VISITS}
    values["m1"] = [0.1] * 7 + [0.3] * 7
    result = stats.outcome_analysis(outcome_rows(values, arms), "ppi", ARMS, "available")
    assert result["arm_at_visit"][0]["p_bonferroni"] is None
    assert result["arm_at_visit"][1]["p_bonferroni"] is None
    assert result["arm_at_visit"][1]["mean_difference"] == pytest.approx(-0.2)
    assert all(row["p_bonferroni"] is None for row in result["visit_vs_baseline"])


def test_single_participant_arm() -> None:
    arms = ["MLT", "PLACEBO", "PLACEBO", "PLACEBO"]
    values = {visit: [j + 1.0, j + 2.0, j + 2.5, j + 4.0] for j, visit in enumerate(stats.VISITS)}
    for population in stats.POPULATIONS:
        result = stats.outcome_analysis(outcome_rows(values, arms), "ppi", ARMS, population)
        json.dumps(result, allow_nan=False)
        assert result["visits"]["m1"]["MLT"] == {"n": 1, "mean": 2.0, "sd": None, "sem": None}
        mlt_m1 = result["visit_vs_baseline"][0]
        assert mlt_m1["mean_difference"] == 1.0
        assert mlt_m1["p_bonferroni"] is None
        # Pooled variance from the placebo arm alone still gives a t-test with 2 df.
        assert result["arm_at_visit"][0]["p_bonferroni"] is not None


def test_tics_and_pain_with_no_data() -> None:
    frame = pd.DataFrame(columns=["study_id", "arm", "visit", "tics_total", "vas_mm"])
    assert stats.tics_comparison(frame, ARMS) == {
        "test": "mann_whitney",
        "p": None,
        "MLT": {"n": 0, "mean": None, "sd": None},
        "PLACEBO": {"n": 0, "mean": None, "sd": None},
    }
    assert stats.persistent_pain(frame, ARMS)["m3"]["p"] is None


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(ARMS),
            st.lists(
                st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.0, 7.5])), min_size=4, max_size=4
            ),
        ),
        max_size=7,
    ),
    st.sampled_from(stats.POPULATIONS),
)
def test_any_small_data_set_gives_strict_json(people, population) -> None:
    rows = [
        {"study_id": f"H{i}", "arm": arm, "visit": visit, "ppi": value, "vas_mm": value}
        for i, (arm, scores) in enumerate(people)
        for visit, value in zip(stats.VISITS, scores, strict=True)
    ]
    frame = pd.DataFrame(rows, columns=["study_id", "arm", "visit", "ppi", "vas_mm"])
    result = stats.outcome_analysis(frame, "ppi", ARMS, population)
    json.dumps(result, allow_nan=False)
    assert all(is_p(result["anova"][term]) for term in ("arm", "visit", "interaction"))
    json.dumps(stats.persistent_pain(frame, ARMS), allow_nan=False)


# ---------------------------------------------------------------------------
# Contract errors
# ---------------------------------------------------------------------------


def message(template: str) -> str:
    """A regex matching the messages ``template`` formats (any text for each placeholder)."""
    return ".+".join(re.escape(part) for part in re.split(r"\{[^}]*\}", template))


@pytest.mark.parametrize(
    "arms",
    [["MLT"], ["MLT", "MLT"], ["MLT", "PLACEBO", "OTHER"], ["MLT", ""], ["MLT", "p"], "MLT"],
)
def test_bad_arms_are_refused(arms, outcomes) -> None:
    with pytest.raises(ValueError, match=message(stats.ARMS_ERROR)):
        stats.persistent_pain(outcomes, arms)


def test_unknown_arm_values_are_refused(participants, outcomes) -> None:
    with pytest.raises(ValueError, match=message(stats.UNKNOWN_ARM_ERROR)):
        stats.baseline_table(participants, ["MLT", "CONTROL"])
    with pytest.raises(ValueError, match="outcomes: arm value"):
        stats.outcome_analysis(outcomes.replace({"arm": {"PLACEBO": None}}), "ppi", ARMS)


def test_missing_columns_are_refused(participants, outcomes) -> None:
    with pytest.raises(ValueError, match="participants is missing column\\(s\\): bmi"):
        stats.baseline_table(participants.drop(columns="bmi"), ARMS)
    with pytest.raises(ValueError, match="outcomes is missing column\\(s\\): psqi_global"):
        stats.dsmb_statistics(participants, outcomes.drop(columns="psqi_global"), ARMS)
    with pytest.raises(ValueError, match=message(stats.MISSING_COLUMNS_ERROR)):
        stats.outcome_analysis(outcomes, "no_such_score", ARMS)


@pytest.mark.parametrize("table", [[1, 2], [[1, -1], [2, 3]], [[1, float("nan")], [2, 3]]])
def test_bad_contingency_tables_are_refused(table) -> None:
    with pytest.raises(ValueError, match=message(stats.TABLE_ERROR)):
        stats.choose_categorical_test(table)


def test_bad_values_are_refused(participants, outcomes) -> None:
    cases = [
        (
            lambda: stats.outcome_analysis(outcomes, "ppi", ARMS, "everyone"),
            stats.POPULATION_ERROR,
        ),
        (
            lambda: stats.persistent_pain(outcomes.replace({"visit": {"m3": "month3"}}), ARMS),
            stats.UNKNOWN_VISIT_ERROR,
        ),
        (
            lambda: stats.persistent_pain(pd.concat([outcomes, outcomes.iloc[:1]]), ARMS),
            stats.DUPLICATE_VISIT_ERROR,
        ),
        (
            lambda: stats.baseline_table(pd.concat([participants, participants.iloc[:1]]), ARMS),
            stats.DUPLICATE_PARTICIPANT_ERROR,
        ),
        (
            lambda: stats.baseline_table(small_participants(age=["forty"] + [50] * 7), ARMS),
            stats.NOT_NUMERIC_ERROR,
        ),
        (
            lambda: stats.baseline_table(small_participants(surgical_site=["Left"] * 8), ARMS),
            stats.UNKNOWN_CATEGORY_ERROR,
        ),
        (
            lambda: stats.baseline_table(small_participants(radiotherapy=[2] * 8), ARMS),
            stats.NOT_BOOLEAN_ERROR,
        ),
        (
            lambda: stats.dsmb_statistics(
                participants, outcomes.replace({"arm": {"MLT": "PLACEBO", "PLACEBO": "MLT"}})
            ),
            stats.ARM_CONFLICT_ERROR,
        ),
    ]
    for call, template in cases:
        with pytest.raises(ValueError, match=message(template)):
            call()


@pytest.mark.parametrize("seed", range(5))
def test_residual_beside_participants_equals_the_dense_indicator_fit(seed) -> None:
    # Frisch–Waugh–Lovell: demeaning within participants gives the same residual as a
    # least-squares fit with one indicator column per participant (unbalanced data).
    rng = np.random.default_rng(seed)
    participant = rng.integers(0, 12, size=40)
    design = np.column_stack([np.ones(40), rng.normal(size=40), rng.integers(0, 2, size=40)])
    y = rng.normal(size=40) + participant * 0.3
    indicators = pd.get_dummies(participant).to_numpy(dtype=float)
    dense = np.column_stack([design, indicators])
    expected = y - dense @ np.linalg.lstsq(dense, y, rcond=None)[0]
    got = stats._residual_beside_participants(y, design, participant)
    np.testing.assert_allclose(got, expected, atol=1e-10)
    within = stats._within(y, participant)
    np.testing.assert_allclose(
        within, y - indicators @ np.linalg.lstsq(indicators, y, rcond=None)[0], atol=1e-10
    )


# ---------------------------------------------------------------------------
# Edges of the decisions (test choice, empty and single-value arms, table reduction)
# ---------------------------------------------------------------------------


def test_shapiro_p_equal_to_alpha_keeps_student_t() -> None:
    # Student's t when p ≥ alpha in both arms: p exactly at alpha is not "non-normal".
    a, b = NORMAL[:20], NORMAL_2[:20]
    at_a = sps.shapiro(a).pvalue
    assert at_a < sps.shapiro(b).pvalue
    assert stats.choose_continuous_test(a, b, alpha=at_a) == "student_t"
    assert stats.choose_continuous_test(a, b, alpha=np.nextafter(at_a, 1.0)) == "mann_whitney"


def tics_rows(mlt: list[float], placebo: list[float]) -> pd.DataFrame:
    values = [("MLT", value) for value in mlt] + [("PLACEBO", value) for value in placebo]
    return pd.DataFrame(
        {
            "study_id": [f"T{i}" for i in range(len(values))],
            "arm": [arm for arm, _ in values],
            "visit": ["m6"] * len(values),
            "tics_total": [value for _, value in values],
        }
    )


@pytest.mark.parametrize(
    ("mlt", "placebo", "p"),
    [
        ([], [35.0], None),  # an arm without data: nothing to compare
        ([35.0], [], None),
        ([], [], None),
        # One value is enough for Mann–Whitney (these two equal 1.0 exactly).
        ([33.0], [31.0, 32.0, 35.0], sps.mannwhitneyu([33.0], [31.0, 32.0, 35.0]).pvalue),
        ([31.0, 32.0, 35.0], [33.0], sps.mannwhitneyu([31.0, 32.0, 35.0], [33.0]).pvalue),
        # Values one point apart are not "all equal".
        (
            [30.0, 30.0, 31.0],
            [31.0, 31.0, 31.0],
            sps.mannwhitneyu([30, 30, 31], [31, 31, 31]).pvalue,
        ),
        ([31.0, 31.0], [31.0], 1.0),  # every value equal
    ],
)
def test_tics_comparison_small_arms(mlt, placebo, p) -> None:
    result = stats.tics_comparison(tics_rows(mlt, placebo), ARMS)
    assert result["test"] == "mann_whitney"
    if p is None:
        assert result["p"] is None
    else:
        assert result["p"] == pytest.approx(p, rel=1e-12)


def test_persistent_pain_one_participant_per_arm_is_tested() -> None:
    frame = pd.DataFrame(
        {"study_id": ["A", "B"], "arm": ARMS, "visit": ["m3", "m3"], "vas_mm": [30, 10]}
    )
    result = stats.persistent_pain(frame, ARMS)["m3"]
    assert result["MLT"] == {"events": 1, "n": 1}
    assert result["PLACEBO"] == {"events": 0, "n": 1}
    assert result["p"] == pytest.approx(sps.fisher_exact([[1, 0], [0, 1]]).pvalue)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        # A row or a column with a single count is kept: only all-zero ones are dropped.
        ([[1, 0, 0], [0, 1, 0], [0, 0, 1]], "chi_square"),
        ([[2, 3], [1, 0], [4, 5]], "chi_square"),
        ([[2, 3, 1], [4, 5, 0]], "chi_square"),
        ([[1, 0], [0, 1]], "fisher"),
    ],
)
def test_categorical_choice_keeps_rows_and_columns_of_one(table, expected) -> None:
    assert stats.choose_categorical_test(table) == expected


@pytest.mark.parametrize("table", [[[1, None], [2, 3]], [[1, 2], [None, 3]]])
def test_a_table_with_a_missing_count_is_refused(table) -> None:
    with pytest.raises(ValueError, match=message(stats.TABLE_ERROR)):
        stats.choose_categorical_test(table)


def _bonferroni_t(difference: float, se: float, df: int, family: int) -> dict[str, float]:
    """The pairwise row by hand: two-sided t, p × family capped at 1, interval to match."""
    p = 2 * sps.t.sf(abs(difference / se), df)
    half = sps.t.ppf(1 - 0.05 / (2 * family), df) * se
    return {
        "mean_difference": difference,
        "ci_low": difference - half,
        "ci_high": difference + half,
        "p_bonferroni": min(1.0, p * family),
    }


def test_arm_comparison_with_one_degree_of_freedom_is_still_a_t_test() -> None:
    # One MLT value and two placebo values: the pooled variance has df = 1.
    values = {visit: [5.0 + j, 1.0, 4.0] for j, visit in enumerate(stats.VISITS)}
    result = stats.outcome_analysis(
        outcome_rows(values, ["MLT", "PLACEBO", "PLACEBO"]), "ppi", ARMS
    )
    row = result["arm_at_visit"][0]
    se = math.sqrt(((1.0 - 2.5) ** 2 + (4.0 - 2.5) ** 2) / 1 * (1 / 1 + 1 / 2))
    expected = _bonferroni_t(5.0 - 2.5, se, 1, stats.BONFERRONI_FAMILY_ARM_AT_VISIT)
    assert {key: row[key] for key in expected} == pytest.approx(expected, rel=1e-12)


def test_visit_against_baseline_with_two_pairs_is_a_paired_t_test() -> None:
    # Two participants, differences 1 and 2 at m1 (one apart): df = 1.
    values = {"baseline": [0.0, 0.0], "m1": [1.0, 2.0], "m3": [1.0, 1.0], "m6": [0.0, 0.0]}
    result = stats.outcome_analysis(outcome_rows(values, ["MLT", "MLT"]), "ppi", ARMS)
    mlt_m1 = result["visit_vs_baseline"][0]
    assert (mlt_m1["arm"], mlt_m1["visit"]) == ("MLT", "m1")
    se = float(np.std([1.0, 2.0], ddof=1)) / math.sqrt(2)
    expected = _bonferroni_t(1.5, se, 1, stats.BONFERRONI_FAMILY_VISIT_VS_BASELINE)
    assert {key: mlt_m1[key] for key in expected} == pytest.approx(expected, rel=1e-12)
    # Equal differences (m3: 1 and 1) have no variation: no p, no interval.
    mlt_m3 = result["visit_vs_baseline"][1]
    assert mlt_m3 == {
        "arm": "MLT",
        "visit": "m3",
        "mean_difference": 1.0,
        "ci_low": None,
        "ci_high": None,
        "p_bonferroni": None,
    }
