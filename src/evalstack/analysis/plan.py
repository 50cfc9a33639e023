"""Planning before spending money: samples needed, detectable effects, and a cost forecast.

Three questions, each answered overall and per category when a pilot run gives categories:

- **How many samples** does a difference of ``delta`` need, at level ``alpha`` and ``power``?
  Unpaired (two runs on different samples, Fleiss's two-proportion formula, n per arm) and
  paired (both models on the same items, Connor's McNemar formula, which needs the
  *discordance*: the share of items the two models score differently, measured on two pilot
  runs or given).
- **What can n samples detect?** The minimum detectable effect at a planned ``n``.
- **What will it cost?** The pilot's mean tokens and latency per sample, with bootstrap
  intervals, times the planned samples, priced with the price table.

The functions here are pure: the CLI (``evalstack plan``) loads runs and only renders.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from evalstack.analysis.pairs import MetricPairs, Pairing, RunScores
from evalstack.core.errors import ConfigError, UserError
from evalstack.model.prices import price_for
from evalstack.stats import (
    bootstrap_ci,
    minimum_detectable_effect,
    sample_size_paired,
    sample_size_unpaired,
)
from evalstack.stats.result import StatResult

DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class Design:
    """What to plan for: the difference (or planned size), the test's level and power.

    Attributes:
        delta: the difference in proportions to detect (0.05 is 5 points), or ``None``.
        n: a planned sample size (per arm; pairs when paired) to find the detectable effect.
        alpha: the two-sided significance level.
        power: the chance of detecting ``delta`` when it is real.
        accuracy: the baseline accuracy; ``None`` to take it from the pilot.
        discordance: the expected share of discordant pairs; ``None`` to measure it.

    Examples:
        >>> Design(delta=0.05, accuracy=0.5).check().power
        0.8
    """

    delta: float | None = None
    n: int | None = None
    alpha: float = 0.05
    power: float = 0.8
    accuracy: float | None = None
    discordance: float | None = None

    def check(self) -> Design:
        """Validate the inputs; raise ``ConfigError`` naming the flag, the range and a fix."""
        _open("--alpha", self.alpha, "a significance level such as 0.05")
        _open("--power", self.power, "a power such as 0.8")
        if self.accuracy is not None:
            _open("--accuracy", self.accuracy, "the baseline accuracy as a proportion, "
                  "e.g. 0.72 for 72%")
        if self.delta is not None:
            _open("--delta", self.delta, "the difference to detect as a proportion, "
                  "e.g. 0.05 for 5 points")
            if self.accuracy is not None and _direction(self.accuracy, self.delta) is None:
                raise ConfigError(
                    f"--delta {self.delta:g} does not fit --accuracy {self.accuracy:g}: "
                    f"both {self.accuracy:g} + {self.delta:g} and {self.accuracy:g} - "
                    f"{self.delta:g} fall outside (0, 1). Pass a smaller --delta."
                )
        if self.discordance is not None and not 0 < self.discordance <= 1:
            raise ConfigError(
                f"--discordance must be in (0, 1], the share of items two models score "
                f"differently (e.g. 0.15); got {self.discordance:g}. Measure it with two "
                "pilot runs instead: --pilot A --pilot B."
            )
        if self.n is not None and self.n < 2:
            raise ConfigError(f"--n must be at least 2 samples; got {self.n}.")
        return self


@dataclass(frozen=True)
class Row:
    """The plan for one category (or ``overall``).

    Attributes:
        category: the category, or ``"overall"``.
        items: samples of this category in the pilot (``None`` without a pilot).
        accuracy: the baseline accuracy planned from.
        target: the accuracy the planned difference moves it to (``None`` if no ``delta``).
        discordance: the discordance used for the paired figures, if any.
        discordance_source: ``given``, ``measured``, or ``overall`` (the category had no
            discordant pairs, so the overall rate is used).
        n_unpaired / n_paired: samples needed per arm / pairs needed for ``delta``.
        mde_at: the sample size the detectable effects are for (a share of ``--n`` for
            categories, by the pilot's category sizes).
        mde_unpaired / mde_paired: the smallest increase detectable at ``mde_at``.
        notes: why a figure is missing, or what it assumes.
    """

    category: str
    items: int | None
    accuracy: float
    target: float | None = None
    discordance: float | None = None
    discordance_source: str | None = None
    n_unpaired: int | None = None
    n_paired: int | None = None
    mde_at: int | None = None
    mde_unpaired: float | None = None
    mde_paired: float | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Forecast:
    """What a run of ``samples`` x ``epochs`` on ``model`` will cost, from a pilot run.

    Attributes:
        pilot: the pilot's run id; ``pilot_model`` the model it ran.
        model: the model priced (the pilot's unless ``--model``).
        pricing: ``priced``, ``free`` (local and mock models) or ``unknown`` (not in the
            price table: tokens only).
        input_per_m / output_per_m: USD per million tokens, when priced.
        samples / epochs / concurrency: the planned run.
        pilot_samples: the pilot's sample-epochs the means are taken over.
        input_tokens / output_tokens / latency_ms: per sample-epoch means with intervals.
        cost_usd: the whole run's cost (``None`` when unknown).
        total_input_tokens / total_output_tokens: the whole run's tokens.
        wall_seconds: ``samples * epochs * mean latency / concurrency``.
        notes: assumptions and caveats.
    """

    pilot: str
    pilot_model: str
    model: str
    pricing: str
    input_per_m: float | None
    output_per_m: float | None
    samples: int
    epochs: int
    concurrency: int
    pilot_samples: int
    input_tokens: StatResult | None
    output_tokens: StatResult | None
    latency_ms: StatResult | None
    cost_usd: StatResult | None
    total_input_tokens: StatResult | None
    total_output_tokens: StatResult | None
    wall_seconds: StatResult | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """Everything ``evalstack plan`` prints (``to_dict`` is its ``--json``)."""

    design: Design
    metric: str | None
    pilots: tuple[str, ...]
    rows: tuple[Row, ...]
    forecasts: tuple[Forecast, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def overall(self) -> Row:
        return self.rows[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- sample sizes and detectable effects -----------------------------------------------------


def plan_row(
    design: Design,
    category: str,
    accuracy: float,
    discordance: float | None = None,
    discordance_source: str | None = None,
    items: int | None = None,
    mde_at: int | None = None,
) -> Row:
    """Sample sizes for ``design.delta`` and detectable effects at ``mde_at`` for one row.

    The difference is planned as an increase from ``accuracy``, or as a drop when the
    increase would pass 100%. Figures that cannot be computed are ``None`` with a note.

    Examples:
        >>> r = plan_row(Design(delta=0.05), "overall", 0.5, 0.15, "given")
        >>> r.n_unpaired, r.n_paired, r.target
        (1565, 469, 0.55)
    """
    notes: list[str] = []
    target = n_unpaired = n_paired = None
    if design.delta is not None:
        signed = _direction(accuracy, design.delta)
        if signed is None:
            notes.append(f"no room for a {_pts(design.delta)}-point difference from "
                         f"{_pct(accuracy)}")
        else:
            target = round(accuracy + signed, 10)
            if signed < 0:
                notes.append(f"planned as a drop to {_pct(target)}: a rise would pass 100%")
            n_unpaired = _try(notes, lambda: sample_size_unpaired(
                accuracy, signed, design.alpha, design.power).n)
        if discordance is not None:
            if discordance < design.delta:
                notes.append(
                    f"paired: a {_pts(design.delta)}-point difference needs at least "
                    f"{_pct(design.delta)} discordant pairs; the discordance is "
                    f"{_pct(discordance)}")
            else:
                n_paired = _try(notes, lambda: sample_size_paired(
                    design.delta, discordance, design.alpha, design.power).n)
    mde_unpaired = mde_paired = None
    if mde_at is not None:
        if 0 < accuracy < 1:
            mde_unpaired = _try(notes, lambda: minimum_detectable_effect(
                mde_at, accuracy, design.alpha, design.power).estimate)
            if discordance is not None:
                mde_paired = _try(notes, lambda: minimum_detectable_effect(
                    mde_at, accuracy, design.alpha, design.power, paired=True,
                    discordance=discordance).estimate)
        else:
            notes.append(f"accuracy {_pct(accuracy)}: no detectable increase")
    return Row(category, items, accuracy, target, discordance, discordance_source, n_unpaired,
               n_paired, mde_at, mde_unpaired, mde_paired, tuple(notes))


def plan_design(design: Design) -> Plan:
    """A plan from numbers alone (no pilot): ``design.accuracy`` is required.

    Examples:
        >>> p = plan_design(Design(delta=0.05, accuracy=0.5, discordance=0.15))
        >>> p.overall.n_unpaired, p.overall.n_paired
        (1565, 469)
    """
    design.check()
    if design.delta is None and design.n is None:
        raise ConfigError(
            "Nothing to plan: expected --delta (the difference to detect, e.g. 0.05) for "
            "sample sizes, or --n (a planned sample size) for the detectable effect; got "
            "neither. Example: evalstack plan --accuracy 0.5 --delta 0.05"
        )
    if design.accuracy is None:
        raise ConfigError(
            "Expected the baseline accuracy: --accuracy (e.g. 0.72), or a pilot run to "
            "measure it: --pilot RUN_ID; got neither."
        )
    source = "given" if design.discordance is not None else None
    row = plan_row(design, "overall", design.accuracy, design.discordance, source,
                   mde_at=design.n)
    return Plan(design, None, (), (row,), notes=_design_notes(design, row))


def plan_from_pilots(
    design: Design,
    pilot: RunScores,
    pairing: Pairing | None = None,
    metric: str | None = None,
) -> Plan:
    """A plan per category from one pilot run (accuracies) or two (and their discordance).

    With two pilots (``pairing`` of the first and second), the baseline accuracy is the
    first's, and the discordance is the share of matched samples the two score
    differently, per category; a category with no discordant pairs uses the overall rate.
    ``design.accuracy`` and ``design.discordance``, when given, replace the overall figures.

    Raises:
        UserError: the pilot has no scores for the metric, or the metric is not a proportion.
    """
    design.check()
    metric = pilot.resolve_metric(metric)
    values = pilot.values(metric)
    if not values:
        raise UserError(f"Pilot run {pilot.run_id} has no successful samples scored by "
                        f"{metric!r}, so it gives no baseline accuracy. Pilot a run that "
                        "finished some samples.")
    arr = np.array(list(values.values()), dtype=float)
    notes: list[str] = []
    binary = pilot.kind_of(metric) == "binary" and bool(np.isin(arr, (0, 1)).all())
    if not binary:
        if arr.min() < 0 or arr.max() > 1:
            raise UserError(
                f"Metric {metric!r} of pilot run {pilot.run_id} is not a proportion (values "
                f"from {arr.min():g} to {arr.max():g}); plan's formulas are for proportions "
                "such as accuracy. Pass a 0-1 metric with --metric."
            )
        notes.append(f"{metric!r} is not a 0/1 score: its mean is used as the accuracy, and "
                     "the formulas assume proportions, so treat the figures as rough.")
    cats: dict[str, list[float]] = {}
    items: dict[str, set[str]] = {}
    for key, value in values.items():
        cat, sid = pilot.rows[key].category, key[0]
        if cat is not None:
            cats.setdefault(cat, []).append(value)
            items.setdefault(cat, set()).add(sid)
    total_items = len({sid for sid, _ in values})

    overall_psi, cat_psi = None, {}
    if pairing is not None:
        pairs = pairing.metrics.get(metric)
        if pairs is None or pairs.n == 0:
            raise UserError(
                f"The two pilot runs share no successfully scored samples of {metric!r}, so "
                "their discordance cannot be measured. Pilot both models on the same data."
            )
        if pairs.kind != "binary":
            notes.append("paired sample sizes need 0/1 scores to count discordant pairs; "
                         "pass --discordance to plan a paired design anyway.")
        else:
            overall_psi = discordance(pairs)
            cat_psi = {c: discordance(sub) for c, sub in pairs.by_category().items()}
        left_out = len(set(pairing.only_a) | set(pairing.only_b) | set(pairing.errored))
        if left_out:
            notes.append(f"{left_out} sample(s) were in one pilot only or errored in either; "
                         f"the discordance is measured on the {pairs.n} matched pairs.")
    psi = design.discordance if design.discordance is not None else overall_psi
    psi = psi if psi else None  # no discordant pairs at all: nothing to plan paired from
    if pairing is not None and overall_psi == 0 and design.discordance is None:
        notes.append("the two pilots agree on every sample (no discordant pairs): pass "
                     "--discordance to plan a paired design.")
    accuracy = design.accuracy if design.accuracy is not None else float(arr.mean())
    source = "given" if design.discordance is not None else ("measured" if psi else None)
    rows = [plan_row(design, "overall", accuracy, psi, source, total_items, design.n)]
    for cat in sorted(cats):
        measured = cat_psi.get(cat)
        c_psi, c_src = (measured, "measured") if measured else (
            (psi, "overall") if psi is not None else (None, None))
        share = len(items[cat]) / total_items
        at = max(2, round(design.n * share)) if design.n is not None else None
        rows.append(plan_row(design, cat, float(np.mean(cats[cat])), c_psi, c_src,
                             len(items[cat]), at))
    runs = (pilot.run_id,) + ((pairing.b.run_id,) if pairing is not None else ())
    notes = [*_design_notes(design, rows[0], pilots=len(runs)), *notes]
    if design.accuracy is not None:
        notes.append(f"overall accuracy {_pct(design.accuracy)} is the given --accuracy; "
                     "categories use the pilot's.")
    if any(r.discordance_source == "overall" for r in rows[1:]):
        notes.append("categories marked 'overall' had no discordant pairs in the pilots; "
                     "they use the overall discordance.")
    return Plan(design, metric, runs, tuple(rows), notes=tuple(notes))


def discordance(pairs: MetricPairs) -> float:
    """The share of matched samples two runs score differently.

    Examples:
        >>> pairs = MetricPairs("acc", "binary", [("a", 0), ("b", 0), ("c", 0), ("d", 0)],
        ...                     np.array([1., 0., 1., 1.]), np.array([1., 1., 0., 1.]),
        ...                     [None] * 4)
        >>> discordance(pairs)
        0.5
    """
    return float(np.mean(pairs.a != pairs.b)) if pairs.n else 0.0


# --- cost and time ---------------------------------------------------------------------------


def forecast(
    pilot: RunScores,
    table: dict[str, tuple[float, float]],
    model: str | None = None,
    samples: int | None = None,
    epochs: int = 1,
    concurrency: int | None = None,
    rng: np.random.Generator | None = None,
) -> Forecast:
    """Forecast a run's tokens, cost and wall time from a pilot's per-sample usage.

    Means per sample-epoch come with 95% percentile-bootstrap intervals (their uncertainty
    from the pilot's size), scaled by ``samples * epochs``. Tokens are the pilot's, so a
    ``model`` with another tokenizer costs somewhat more or less.

    Args:
        pilot: the pilot run's scores and record.
        table: the price table (``evalstack.model.prices.load_table``).
        model: the model to price; default the pilot's.
        samples: samples in the planned run; default the pilot's dataset size.
        epochs: repeats of each sample.
        concurrency: requests in flight; default the pilot's, else 8.
        rng: the bootstrap's generator; default ``numpy.random.default_rng(0)``.
    """
    run = pilot.run
    run_id, pilot_model = (run.id, run.model) if run is not None else ("-", "-")
    model = model or pilot_model
    config = run.config if run is not None else {}
    if samples is None:
        samples = run.dataset_size if run is not None else len({s for s, _ in pilot.rows})
    if samples < 1 or epochs < 1:
        raise ConfigError(f"--samples and --epochs must be at least 1; got {samples} and "
                          f"{epochs}.")
    if concurrency is None:
        concurrency = int(config.get("concurrency") or DEFAULT_CONCURRENCY)
    if concurrency < 1:
        raise ConfigError(f"--concurrency must be at least 1; got {concurrency}.")
    rng = rng if rng is not None else np.random.default_rng(0)
    price = price_for(model, table)
    pricing = "unknown" if not price.known else (
        "free" if price.input_per_m == 0 and price.output_per_m == 0 else "priced")
    rows = list(pilot.rows.values())
    tin = [r.input_tokens for r in rows if r.input_tokens is not None]
    tout = [r.output_tokens for r in rows if r.output_tokens is not None]
    lat = [r.latency_ms for r in rows if r.latency_ms is not None]
    used = [r for r in rows if r.input_tokens is not None or r.output_tokens is not None]
    costs = [price.cost(r.input_tokens, r.output_tokens) for r in used]
    calls = samples * epochs
    m_in, m_out, m_lat = _mean_ci(tin, rng), _mean_ci(tout, rng), _mean_ci(lat, rng)
    m_cost = _mean_ci(costs, rng) if pricing == "priced" else None
    notes: list[str] = []
    if not used:
        notes.append(f"pilot run {run_id} recorded no token counts (cached responses, or a "
                     "provider that reports no usage): no token or cost forecast.")
    if pricing == "free":
        notes.append(f"{model}: free (local model).")
    elif pricing == "unknown":
        notes.append(f"{model} is not in the price table: tokens only. Add it with --prices "
                     "FILE (JSON: {\"MODEL\": {\"input\": USD_per_1M, \"output\": "
                     "USD_per_1M}}).")
    if model != pilot_model:
        notes.append(f"tokens are {pilot_model}'s from the pilot; {model}'s tokenizer may "
                     "count somewhat differently.")
    if run is not None and run.limit is not None and samples == run.dataset_size:
        notes.append(f"the pilot ran --limit {run.limit}, so the full dataset size is unknown: "
                     "this forecasts the pilot's size; pass --samples N for the full run.")
    if lat:
        notes.append(f"wall time = samples x epochs x mean latency / concurrency {concurrency}; "
                     "rate limits and retries add to it.")
    return Forecast(
        pilot=run_id, pilot_model=pilot_model, model=model, pricing=pricing,
        input_per_m=price.input_per_m if pricing != "unknown" else None,
        output_per_m=price.output_per_m if pricing != "unknown" else None,
        samples=samples, epochs=epochs, concurrency=concurrency, pilot_samples=len(used),
        input_tokens=m_in, output_tokens=m_out, latency_ms=m_lat,
        cost_usd=(m_cost.scaled(calls) if m_cost else
                  StatResult(0.0, 0.0, 0.0, len(used), "free")
                  if pricing == "free" and used else None),
        total_input_tokens=m_in.scaled(calls) if m_in else None,
        total_output_tokens=m_out.scaled(calls) if m_out else None,
        wall_seconds=m_lat.scaled(calls / concurrency / 1000.0) if m_lat else None,
        notes=tuple(notes),
    )


# --- helpers ---------------------------------------------------------------------------------


def _design_notes(design: Design, overall: Row, pilots: int = 0) -> tuple[str, ...]:
    notes = []
    if design.delta is not None or design.n is not None:
        notes.append("Unpaired: samples per arm, for two runs on different samples "
                     "(two-proportion z-test, Fleiss et al. 2003).")
        notes.append("Paired: items both models answer (McNemar's test, Connor 1987); the "
                     "discordance is the share of items the two models score differently.")
        if overall.discordance is None:
            more = "" if pilots == 2 else ", or two pilot runs: --pilot A --pilot B"
            notes.append(f"Paired figures need the discordance: pass --discordance{more}.")
    return tuple(notes)


def _direction(accuracy: float, delta: float) -> float | None:
    """``+delta`` when ``accuracy + delta`` stays below 1, else ``-delta`` if that stays above 0."""
    if 0 < accuracy + delta < 1 and 0 < accuracy:
        return delta
    if 0 < accuracy - delta < 1:
        return -delta
    return None


def _try(notes: list[str], fn: Any) -> Any:
    try:
        return fn()
    except ValueError as exc:
        notes.append(str(exc))
        return None


def _mean_ci(values: Sequence[float], rng: np.random.Generator) -> StatResult | None:
    if not values:
        return None
    arr = np.asarray(values, dtype=float)
    if arr.size < 2 or np.all(arr == arr[0]):
        mean = float(arr.mean())
        return StatResult(mean, mean, mean, int(arr.size), "constant")
    r = bootstrap_ci(arr, "mean", 0.95, n_resamples=2000, rng=rng)
    return r


def _open(flag: str, value: float, what: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and 0 < value < 1):
        raise ConfigError(f"{flag} must be strictly between 0 and 1 ({what}); got {value!r}.")


def _pct(value: float, digits: int = 1) -> str:
    return f"{value * 100:.{digits}f}%"


def _pts(value: float) -> str:
    return f"{value * 100:g}"
