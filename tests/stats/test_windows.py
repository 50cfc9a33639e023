"""evalstack.stats.windows: calendar windows, per-window rates and means, cohorts, decline test."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from evalstack.stats import bootstrap_ci, wilson_ci
from evalstack.stats.windows import (
    Window,
    decline_test,
    retention_cohorts,
    wilson_rate,
    window_at,
    window_index,
    window_start,
    windowed_mean,
    windowed_rate,
)

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)


def test_window_start_day_and_iso_week_in_utc() -> None:
    assert window_start(datetime(2026, 11, 4, 23, 59), "day") == datetime(2026, 11, 4, tzinfo=UTC)
    # Sunday night still belongs to the week that started on Monday 2 November
    assert window_start(datetime(2026, 11, 8, 23, 59, tzinfo=UTC), "week") == MONDAY
    assert window_start(datetime(2026, 11, 9, tzinfo=UTC), "week") == MONDAY + timedelta(days=7)
    # 20:30 at UTC-5 is 01:30 UTC the next day
    late = datetime(2026, 11, 4, 20, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert window_start(late, "day") == datetime(2026, 11, 5, tzinfo=UTC)
    assert MONDAY.isocalendar().weekday == 1
    for d in range(-3, 40):
        t = MONDAY + timedelta(days=d, hours=5)
        assert window_at(window_index(t, "week"), "week") == window_start(t, "week")
        assert window_at(window_index(t, "day"), "day") == window_start(t, "day")


def test_unknown_window_and_non_datetime_are_errors() -> None:
    with pytest.raises(ValueError, match="window must be 'day' or 'week'; got 'hour'"):
        window_start(MONDAY, "hour")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Expected a datetime"):
        window_start("2026-11-02", "day")  # type: ignore[arg-type]


def test_windowed_rate_is_wilson_per_window_with_empty_windows_filled() -> None:
    ts = [MONDAY + timedelta(hours=h) for h in (1, 2, 3, 50, 51)]
    out = windowed_rate(ts, [1, 1, 0, 0, True], "day")
    assert [w.start for w in out] == [MONDAY + timedelta(days=i) for i in range(3)]
    assert [w.result.n for w in out] == [3, 0, 2]
    assert out[0].result.estimate == wilson_ci(2, 3).estimate
    assert out[0].result.ci_low == wilson_ci(2, 3).ci_low
    assert math.isnan(out[1].result.estimate)
    assert out[2].result.se == pytest.approx(0.5 / math.sqrt(2))


def test_windowed_rate_start_and_end_bound_the_windows() -> None:
    ts = [MONDAY + timedelta(days=d) for d in (0, 1, 5)]
    out = windowed_rate(ts, [1, 0, 1], "day", start=MONDAY + timedelta(days=1),
                        end=MONDAY + timedelta(days=4))
    assert [w.start.day for w in out] == [3, 4, 5]
    assert [w.result.n for w in out] == [1, 0, 0]
    assert windowed_rate([], [], "week") == ()


def test_windowed_rate_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="2 timestamps and 1 successes"):
        windowed_rate([MONDAY, MONDAY], [1])
    with pytest.raises(ValueError, match="True/False or 1/0; got 2 at position 1"):
        windowed_rate([MONDAY, MONDAY], [1, 2])


def test_windowed_mean_matches_bootstrap_ci_with_the_same_generator() -> None:
    rng = np.random.default_rng(5)
    values = rng.poisson(3, size=80).astype(float)
    ts = [MONDAY + timedelta(minutes=10 * i) for i in range(80)]
    out = windowed_mean(ts, list(values), "day", n_resamples=500, rng=np.random.default_rng(1))
    ref = bootstrap_ci(values, n_resamples=500, rng=np.random.default_rng(1))
    assert len(out) == 1
    assert (out[0].result.estimate, out[0].result.ci_low, out[0].result.ci_high) == \
        (ref.estimate, ref.ci_low, ref.ci_high)
    assert out[0].result.se == pytest.approx(values.std(ddof=1) / math.sqrt(80))
    with pytest.raises(ValueError, match="finite numbers"):
        windowed_mean([MONDAY], [math.inf])


def test_retention_cohorts_small_example_and_censoring() -> None:
    w = timedelta(days=7)
    users = ["a", "b", "c", "a", "c", "b", "d", "a"]
    when = [MONDAY, MONDAY, MONDAY + timedelta(days=3), MONDAY + w, MONDAY + w,
            MONDAY + 2 * w, MONDAY + 2 * w, MONDAY + 3 * w]
    cohorts = retention_cohorts(users, when, 3, observed_until=MONDAY + 3 * w)
    assert [(c.start, c.size) for c in cohorts] == [(MONDAY, 3), (MONDAY + 2 * w, 1)]
    # week 3 has not ended by observed_until, so k=3 for week 0 and k>=1 for week 2 are left out
    assert [r.estimate for r in cohorts[0].returns] == [2 / 3, 1 / 3]
    assert cohorts[1].returns == ()
    assert cohorts[0].returns[1] == wilson_ci(1, 3)
    with pytest.raises(ValueError, match="periods must be an integer of at least 1"):
        retention_cohorts(users, when, 0)


def test_decline_test_matches_the_normal_formula() -> None:
    cur, ref = wilson_rate(130, 200), wilson_rate(330, 400)
    r = decline_test(cur, ref)
    assert cur.se is not None and ref.se is not None
    sd = math.hypot(cur.se, ref.se)
    diff = 130 / 200 - 330 / 400
    assert r.estimate == pytest.approx(diff)
    assert r.p_value == pytest.approx(sps.norm.cdf(diff / sd))
    assert (r.ci_low, r.ci_high) == pytest.approx((diff - 1.959964 * sd, diff + 1.959964 * sd))
    fixed = decline_test(cur, 0.7)
    assert fixed.p_value == pytest.approx(sps.norm.cdf((0.65 - 0.7) / cur.se))
    empty = decline_test(wilson_rate(0, 0), 0.5)
    assert empty.p_value is not None and math.isnan(empty.p_value)
    with pytest.raises(ValueError, match="must carry a standard error"):
        decline_test(wilson_ci(3, 10), 0.5)


_TIMES = st.lists(
    st.tuples(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 3, 1)),
              st.sampled_from(["a", "b", "c", "d", "e"]), st.booleans()),
    max_size=40)


@settings(max_examples=60, deadline=None)
@given(_TIMES, st.sampled_from(["day", "week"]))
def test_windows_partition_the_observations(rows: list[tuple[datetime, str, bool]],
                                            window: Window) -> None:
    ts = [t for t, _, _ in rows]
    out = windowed_rate(ts, [s for _, _, s in rows], window)
    assert sum(w.result.n for w in out) == len(rows)
    starts = [w.start for w in out]
    assert all(window_index(b, window) - window_index(a, window) == 1
               for a, b in zip(starts, starts[1:], strict=False))
    for w in out:
        inside = [s for t, _, s in rows if window_start(t, window) == w.start]
        if inside:
            assert w.result == wilson_rate(sum(inside), len(inside))
        else:
            assert w.result.n == 0 and math.isnan(w.result.estimate)


@settings(max_examples=60, deadline=None)
@given(_TIMES)
def test_every_user_is_in_exactly_one_cohort(rows: list[tuple[datetime, str, bool]]) -> None:
    cohorts = retention_cohorts([u for _, u, _ in rows], [t for t, _, _ in rows], 3)
    assert sum(c.size for c in cohorts) == len({u for _, u, _ in rows})
    for c in cohorts:
        assert all(0 <= r.estimate <= 1 and r.n == c.size for r in c.returns)
