"""Agreement statistics against scikit-learn, statsmodels, krippendorff and a textbook."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from evalstack.stats import cohen_kappa, fleiss_kappa, krippendorff_alpha

NAN = math.nan
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: 4 coders
# (rows) x 12 units (columns), with missing values.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


def _two_raters(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, k, n)
    b = np.where(rng.random(n) < 0.6, a, rng.integers(0, k, n))
    return a, b


# --- Cohen's kappa ---------------------------------------------------------------------


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("seed", range(8))
def test_cohen_kappa_matches_sklearn(weights, seed):
    a, b = _two_raters(seed, n=5 + 7 * seed, k=2 + seed % 4)
    result = cohen_kappa(a, b, weights=weights)
    assert result.estimate == pytest.approx(cohen_kappa_score(a, b, weights=weights), abs=1e-9)
    assert result.n == a.size
    assert result.method == "cohen_kappa" + ("" if weights is None else f"_{weights}")
    assert math.isnan(result.ci_low) and math.isnan(result.ci_high) and result.se is None


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=2, max_size=40),
    weights=st.sampled_from([None, "linear", "quadratic"]),
)
def test_cohen_kappa_matches_sklearn_property(pairs, weights):
    a, b = (np.array(x) for x in zip(*pairs, strict=True))
    labels = [1, 2, 3, 4, 5]
    got = cohen_kappa(a, b, weights=weights, labels=labels).estimate
    if len(set(a) | set(b)) == 1:  # kappa undefined: one label throughout
        assert math.isnan(got)
        return
    expected = cohen_kappa_score(a, b, weights=weights, labels=labels)
    assert got == pytest.approx(expected, abs=1e-9)


def test_cohen_kappa_labels_set_the_scale_and_accept_strings():
    a = ["low", "mid", "high", "mid", "low", "high", "mid"]
    b = ["low", "high", "high", "mid", "mid", "high", "low"]
    scale = ["low", "mid", "high", "very high"]
    got = cohen_kappa(a, b, weights="quadratic", labels=scale).estimate
    assert got == pytest.approx(cohen_kappa_score(a, b, weights="quadratic", labels=scale))
    # Without labels the positions come from sorting the strings, as in scikit-learn.
    assert cohen_kappa(a, b, "linear").estimate == pytest.approx(
        cohen_kappa_score(a, b, weights="linear")
    )


def test_cohen_kappa_degenerate_and_empty_are_nan():
    assert math.isnan(cohen_kappa([2, 2, 2], [2, 2, 2]).estimate)  # scikit-learn: nan too
    assert math.isnan(cohen_kappa([1, 1, 1], [1, 1, 1], labels=[0, 1]).estimate)
    empty = cohen_kappa([], [])
    assert empty.n == 0 and math.isnan(empty.estimate)
    assert cohen_kappa([0, 1, 0, 1], [0, 1, 0, 1]).estimate == 1.0


def test_cohen_kappa_bootstrap_contains_estimate_and_is_reproducible():
    a, b = _two_raters(3, n=80, k=5)
    first = cohen_kappa(a, b, "quadratic", n_resamples=2000, rng=np.random.default_rng(7))
    again = cohen_kappa(a, b, "quadratic", n_resamples=2000, rng=np.random.default_rng(7))
    other = cohen_kappa(a, b, "quadratic", n_resamples=2000, rng=np.random.default_rng(8))
    assert first == again
    assert first != other
    assert first.ci_low <= first.estimate <= first.ci_high
    assert first.ci_high - first.ci_low > 0 and first.se > 0
    assert cohen_kappa(a, b, "quadratic", n_resamples=500) == cohen_kappa(
        a, b, "quadratic", n_resamples=500
    )  # rng=None is a fixed seed


def test_cohen_kappa_bootstrap_matches_a_direct_loop():
    a, b = _two_raters(5, n=30, k=3)
    rng = np.random.default_rng(11)
    got = cohen_kappa(a, b, "linear", n_resamples=300, rng=np.random.default_rng(11))
    idx = rng.integers(0, a.size, size=(300, a.size))
    boot = []
    for row in idx:
        if len(set(a[row]) | set(b[row])) > 1:
            boot.append(cohen_kappa_score(a[row], b[row], weights="linear", labels=[0, 1, 2]))
    low, high = np.quantile(boot, [0.025, 0.975])
    assert got.ci_low == pytest.approx(min(low, got.estimate), abs=1e-9)
    assert got.ci_high == pytest.approx(max(high, got.estimate), abs=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"a": [1, 2, 3], "b": [1, 2]}, "3 labels in a and 2 in b"),
        ({"a": [1, 2], "b": [1, 2], "weights": "cubic"}, "weights must be None, 'linear'"),
        ({"a": [[1, 2]], "b": [[1, 2]]}, "a must be one-dimensional"),
        ({"a": [1.0, NAN], "b": [1, 2]}, "a must not have missing labels"),
        ({"a": [1, 2, 7], "b": [1, 2, 2], "labels": [1, 2, 3]}, "got 7. Add it to labels"),
        ({"a": [1, 2], "b": [1, 2], "labels": [1, 1, 2]}, "must not repeat"),
        ({"a": [1, 2], "b": [1, 2], "n_resamples": -1}, "n_resamples must be at least 1"),
        ({"a": [1, 2], "b": [1, 2], "confidence": 95}, "confidence must be a number"),
    ],
)
def test_cohen_kappa_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cohen_kappa(**kwargs)


def test_cohen_kappa_rejects_a_non_generator_rng():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        cohen_kappa([0, 1, 1], [0, 1, 0], n_resamples=10, rng=42)


# --- Fleiss' kappa ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(10))
def test_fleiss_kappa_matches_statsmodels(seed):
    rng = np.random.default_rng(seed)
    n, m, k = 3 + 9 * seed, 2 + seed % 5, 2 + seed % 4
    truth = rng.integers(0, k, n)
    ratings = np.where(rng.random((n, m)) < 0.5, truth[:, None], rng.integers(0, k, (n, m)))
    result = fleiss_kappa(ratings)
    expected = sm_fleiss_kappa(aggregate_raters(ratings)[0], method="fleiss")
    assert result.estimate == pytest.approx(expected, abs=1e-9)
    assert (result.n, result.method) == (n, "fleiss_kappa")


def test_fleiss_kappa_textbook_value():
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories.
    table = np.array([
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ])
    ratings = np.array([np.repeat(np.arange(1, 6), row) for row in table])
    assert fleiss_kappa(ratings).estimate == pytest.approx(0.209930, abs=1e-6)


def test_fleiss_kappa_strings_categories_and_degenerate():
    ratings = [["yes", "yes", "no"], ["no", "no", "no"], ["yes", "yes", "yes"], ["no", "yes", "no"]]
    codes = (np.array(ratings) == "yes").astype(int)
    got = fleiss_kappa(ratings, categories=["no", "yes", "maybe"]).estimate
    assert got == pytest.approx(sm_fleiss_kappa(aggregate_raters(codes)[0]), abs=1e-9)
    assert math.isnan(fleiss_kappa([[1, 1], [1, 1]]).estimate)
    assert fleiss_kappa(np.empty((0, 3))).n == 0


def test_fleiss_kappa_bootstrap_contains_estimate_and_is_reproducible():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 60)
    ratings = np.where(rng.random((60, 4)) < 0.6, truth[:, None], rng.integers(0, 3, (60, 4)))
    first = fleiss_kappa(ratings, n_resamples=1500, rng=np.random.default_rng(1))
    again = fleiss_kappa(ratings, n_resamples=1500, rng=np.random.default_rng(1))
    assert first == again
    assert first.ci_low <= first.estimate <= first.ci_high
    assert 0 < first.ci_high - first.ci_low < 1 and first.se > 0


@pytest.mark.parametrize(
    ("ratings", "kwargs", "message"),
    [
        ([1, 2, 1, 2], {}, "ratings must be two-dimensional, items x raters"),
        ([[1], [2]], {}, "at least 2 raters"),
        ([[1, 2], [1, NAN]], {}, "use krippendorff_alpha"),
        ([[1, 2], [1, 3]], {"categories": [1, 2]}, "got 3. Add it to categories"),
        ([[1, 2], [1, 2, 2]], {}, "rectangular array"),
        ([[1, 2], [2, 2]], {"n_resamples": 1.5}, "n_resamples must be a whole number"),
    ],
)
def test_fleiss_kappa_rejects_bad_input(ratings, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fleiss_kappa(ratings, **kwargs)


# --- Krippendorff's alpha --------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_alpha_textbook_values(level, expected):
    result = krippendorff_alpha(KRIPPENDORFF_2011, level=level)
    assert round(result.estimate, 3) == expected
    assert result.n == 11  # the unit with a single rating is not pairable
    assert result.method == f"krippendorff_alpha_{level}"


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize("seed", range(8))
def test_krippendorff_alpha_matches_package_with_missing_values(level, seed):
    rng = np.random.default_rng(seed)
    raters, items = 2 + seed % 4, 6 + 5 * seed
    truth = rng.integers(1, 6, items)
    data = np.where(rng.random((raters, items)) < 0.6, truth, rng.integers(1, 6, (raters, items)))
    data = data.astype(float) * (1.0 if seed % 2 else 2.5)
    data[rng.random(data.shape) < 0.3] = np.nan
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert krippendorff_alpha(data, level=level).estimate == pytest.approx(expected, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(
        st.lists(st.one_of(st.none(), st.integers(0, 6)), min_size=6, max_size=6),
        min_size=2,
        max_size=5,
    ),
    level=st.sampled_from(["nominal", "ordinal", "interval", "ratio"]),
)
def test_krippendorff_alpha_matches_package_property(data, level):
    x = np.array(data, dtype=float)
    got = krippendorff_alpha(x, level=level).estimate
    pairable = np.sum(~np.isnan(x), axis=0) >= 2
    values = x[:, pairable]
    if len(np.unique(values[~np.isnan(values)])) < 2:  # undefined: the package raises or warns
        assert math.isnan(got)
        return
    assert got == pytest.approx(krippendorff.alpha(x, level_of_measurement=level), abs=1e-9)


def test_krippendorff_alpha_ignores_unpairable_items_and_is_shift_free():
    base = krippendorff_alpha(KRIPPENDORFF_2011, "interval")
    extra = np.column_stack([KRIPPENDORFF_2011, [NAN, 9.0, NAN, NAN]])
    assert krippendorff_alpha(extra, "interval").estimate == pytest.approx(base.estimate)
    shifted = np.asarray(KRIPPENDORFF_2011) + 1e6
    assert krippendorff_alpha(shifted, "interval").estimate == pytest.approx(
        base.estimate, abs=1e-9
    )


def test_krippendorff_alpha_undefined_cases_are_nan():
    assert math.isnan(krippendorff_alpha([[1, 1, NAN], [1, 1, 2]]).estimate)  # one value
    none = krippendorff_alpha([[1, NAN], [NAN, 2]], "nominal")
    assert none.n == 0 and math.isnan(none.estimate)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_krippendorff_alpha_bootstrap_contains_estimate_and_is_reproducible(level):
    first = krippendorff_alpha(KRIPPENDORFF_2011, level, n_resamples=1000,
                               rng=np.random.default_rng(3))
    again = krippendorff_alpha(KRIPPENDORFF_2011, level, n_resamples=1000,
                               rng=np.random.default_rng(3))
    assert first == again
    assert first.ci_low <= first.estimate <= first.ci_high
    assert first.ci_high > first.ci_low and first.se > 0


def test_krippendorff_alpha_bootstrap_matches_a_direct_loop():
    data = np.asarray(KRIPPENDORFF_2011, dtype=float)
    pairable = data[:, np.sum(~np.isnan(data), axis=0) >= 2]
    got = krippendorff_alpha(data, "ordinal", n_resamples=200, rng=np.random.default_rng(5))
    idx = np.random.default_rng(5).integers(0, pairable.shape[1], size=(200, pairable.shape[1]))
    boot = []
    for row in idx:
        sample = pairable[:, row]
        if len(np.unique(sample[~np.isnan(sample)])) > 1:
            boot.append(krippendorff.alpha(sample, level_of_measurement="ordinal"))
    low, high = np.quantile(boot, [0.025, 0.975])
    assert got.ci_low == pytest.approx(min(low, got.estimate), abs=1e-9)
    assert got.ci_high == pytest.approx(max(high, got.estimate), abs=1e-9)


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        ([1, 2, 3], {}, "reliability_data must be two-dimensional, raters x items"),
        ([[1, 2], [1, 2]], {"level": "likert"}, "level must be 'nominal', 'ordinal'"),
        ([["a", "b"], ["a", "a"]], {}, "Map text labels to numbers"),
        ([[1, np.inf], [1, 2]], {}, "got infinity"),
        ([[-1, 2], [1, 2]], {"level": "ratio"}, "ratio-level ratings must be non-negative"),
        ([[1, 2], [1, 2]], {"confidence": 1.0}, "confidence must be a number"),
    ],
)
def test_krippendorff_alpha_rejects_bad_input(data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        krippendorff_alpha(data, **kwargs)
