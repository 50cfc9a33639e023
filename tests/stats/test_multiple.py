"""Holm and Benjamini-Hochberg against statsmodels and against a direct implementation."""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from evalstack.stats import Adjusted, benjamini_hochberg, holm


@pytest.fixture(autouse=True)
def _no_full_gc_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """statsmodels' multipletests runs gc.collect() on every call (~40 ms); skip it here."""
    monkeypatch.setattr(gc, "collect", lambda *args: 0)


# --- direct implementations, written from the papers ----------------------------------------


def holm_direct(p: list[float], alpha: float) -> tuple[list[float], list[bool]]:
    """Holm (1979), step down; adjusted p-values as in Wright (1992)."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted = [0.0] * m
    reject = [False] * m
    running = 0.0
    still_rejecting = True
    for j, i in enumerate(order):  # j = 0 .. m-1; multiplier m - j
        running = max(running, min(1.0, (m - j) * p[i]))
        adjusted[i] = running
        still_rejecting = still_rejecting and p[i] <= alpha / (m - j)
        reject[i] = still_rejecting
    return adjusted, reject


def bh_direct(p: list[float], alpha: float) -> tuple[list[float], list[bool]]:
    """Benjamini & Hochberg (1995), step up."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    k = 0
    for rank, i in enumerate(order, start=1):
        if p[i] <= rank * alpha / m:
            k = rank
    adjusted = [0.0] * m
    reject = [False] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, m * p[i] / rank)
        adjusted[i] = min(1.0, running)
        reject[i] = rank <= k
    return adjusted, reject


def _p_sets() -> list[np.ndarray]:
    rng = np.random.default_rng(17)
    sets = [
        np.array([0.01, 0.04, 0.03, 0.005]),
        np.array([0.0, 1.0, 0.5, 0.05, 0.05, 0.05]),  # ties and both ends
        np.array([0.2]),
        np.array([0.0125, 0.0166, 0.025, 0.05]),  # right on Holm's thresholds
        np.array([0.011, 0.02, 0.03, 0.04, 0.05]),  # BH rejects all, Holm none
    ]
    for size in (3, 10, 50, 200):
        # A mix of true effects (tiny p) and nulls (uniform p).
        p = rng.uniform(size=size)
        p[: size // 4] = rng.uniform(0, 1e-3, size=size // 4)
        sets.append(rng.permutation(p))
        sets.append(np.round(rng.uniform(size=size), 2))  # many ties
    return sets


@pytest.mark.parametrize("p", _p_sets(), ids=lambda p: f"m{p.size}")
@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01])
@pytest.mark.parametrize(
    ("ours", "theirs", "direct"),
    [(holm, "holm", holm_direct), (benjamini_hochberg, "fdr_bh", bh_direct)],
    ids=["holm", "bh"],
)
def test_equals_statsmodels_and_direct(p, alpha, ours, theirs, direct) -> None:
    r = ours(p, alpha)
    reject, corrected, _, _ = multipletests(p, alpha=alpha, method=theirs)
    np.testing.assert_allclose(r.p_values, corrected, rtol=0, atol=1e-12)
    assert r.reject == tuple(bool(x) for x in reject)
    d_adj, d_reject = direct(list(map(float, p)), alpha)
    np.testing.assert_allclose(r.p_values, d_adj, rtol=0, atol=1e-12)
    assert r.reject == tuple(d_reject)
    assert r.alpha == alpha
    assert isinstance(r.p_values, tuple) and isinstance(r.reject, tuple)


def test_known_values_and_bh_rejects_where_holm_does_not() -> None:
    p = [0.011, 0.02, 0.03, 0.04, 0.05]
    h, b = holm(p), benjamini_hochberg(p)
    assert h.reject == (False,) * 5 and b.reject == (True,) * 5
    assert b.p_values == pytest.approx((0.05,) * 5)
    assert h.p_values == pytest.approx((0.055, 0.08, 0.09, 0.09, 0.09))
    assert (h.method, b.method) == ("holm", "benjamini_hochberg")


@pytest.mark.parametrize("fn", [holm, benjamini_hochberg])
def test_empty_input_gives_empty_tuples(fn) -> None:
    r = fn([])
    assert (r.p_values, r.reject, r.alpha) == ((), (), 0.05)


@pytest.mark.parametrize("fn", [holm, benjamini_hochberg])
@pytest.mark.parametrize(
    ("p", "alpha", "match"),
    [
        ([0.1, 1.5], 0.05, r"each lie in \[0, 1\]; got 1.5"),
        ([0.1, -0.1], 0.05, r"got -0.1"),
        ([0.1, math.nan], 0.05, r"got nan"),
        ([[0.1, 0.2]], 0.05, "one-dimensional"),
        ([0.1], 0.0, "strictly between 0 and 1"),
        ([0.1], 1.0, "strictly between 0 and 1"),
        ([0.1], True, "strictly between 0 and 1"),
    ],
)
def test_rejects_bad_input(fn, p, alpha, match) -> None:
    with pytest.raises(ValueError, match=match):
        fn(p, alpha)


def test_adjusted_is_frozen() -> None:
    r = holm([0.01])
    assert isinstance(r, Adjusted)
    with pytest.raises(AttributeError):
        r.alpha = 0.1  # type: ignore[misc]


_p_lists = st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(p=_p_lists, alpha=st.floats(min_value=0.001, max_value=0.5))
def test_properties(p: list[float], alpha: float) -> None:
    h, b = holm(p, alpha), benjamini_hochberg(p, alpha)
    raw = np.array(p)
    ha, ba = np.array(h.p_values), np.array(b.p_values)
    # Adjusting never lowers a p-value, and keeps it a probability.
    assert np.all(ha >= raw) and np.all(ba >= raw)
    assert np.all(ha <= 1) and np.all(ba <= 1)
    # BH is never stricter than Holm, in p-values or in rejections.
    assert np.all(ba <= ha + 1e-15)
    assert all(rb or not rh for rh, rb in zip(h.reject, b.reject, strict=True))
    # Adjusted p-values keep the order of the raw ones.
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(ha[order]) >= 0) and np.all(np.diff(ba[order]) >= 0)
    # A hypothesis is rejected exactly when its adjusted p-value is at most alpha
    # (up to the rounding of k * p against alpha / k).
    for adj, rej in ((ha, h.reject), (ba, b.reject)):
        for value, r in zip(adj, rej, strict=True):
            assert value <= alpha * (1 + 1e-12) if r else value >= alpha * (1 - 1e-12)
    # And it agrees with statsmodels on arbitrary input.
    sm_reject, sm_p, _, _ = multipletests(raw, alpha=alpha, method="holm")
    np.testing.assert_allclose(ha, sm_p, atol=1e-12, rtol=0)
    assert h.reject == tuple(bool(x) for x in sm_reject)
    sm_reject, sm_p, _, _ = multipletests(raw, alpha=alpha, method="fdr_bh")
    np.testing.assert_allclose(ba, sm_p, atol=1e-12, rtol=0)
    assert b.reject == tuple(bool(x) for x in sm_reject)
