"""``evalstack plan``: samples needed, detectable effects and cost, before spending money."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from evalstack.cli._decide import Rows, format_options, say
from evalstack.cli.options import IntAtLeast

if TYPE_CHECKING:
    from evalstack.analysis.plan import Forecast, Plan
    from evalstack.stats.result import StatResult

@click.command("plan")
@click.option("--accuracy", type=float, default=None,
              help="Baseline accuracy, a proportion such as 0.72 (default: the pilot's).")
@click.option("--delta", type=float, default=None,
              help="Difference to detect, a proportion: 0.05 is 5 points.")
@click.option("--alpha", type=float, default=0.05, show_default=True,
              help="Two-sided significance level.")
@click.option("--power", type=float, default=0.8, show_default=True,
              help="Chance of detecting --delta when it is real.")
@click.option("--discordance", type=float, default=None,
              help="Share of items two models score differently, for paired designs "
                   "(default: measured on two pilots).")
@click.option("--n", "n", type=IntAtLeast(2), default=None,
              help="A planned sample size (per arm; pairs when paired): print the minimum "
                   "detectable effect.")
@click.option("--pilot", "pilots", multiple=True, metavar="RUN",
              help="A pilot run (id, unique prefix or baseline name). Once: its accuracy per "
                   "category and its cost. Twice (A then B, same task): also the measured "
                   "discordance.")
@click.option("--metric", default=None,
              help="The pilot's metric to plan for (default: the task's first scorer).")
@click.option("--model", default=None,
              help="Model to price the forecast for (default: the pilot's).")
@click.option("--prices", default=None, envvar="EVALSTACK_PRICES",
              help="Price table file (JSON or YAML), as for `evalstack run`.")
@click.option("--samples", type=IntAtLeast(1), default=None,
              help="Samples in the planned run (default: the pilot's dataset size).")
@click.option("--epochs", type=IntAtLeast(1), default=1, show_default=True,
              help="Repeats of each sample in the planned run.")
@click.option("--concurrency", type=IntAtLeast(1), default=None,
              help="Requests in flight (default: the pilot's setting, else 8).")
@format_options
def plan_command(accuracy: float | None, delta: float | None, alpha: float, power: float,
                 discordance: float | None, n: int | None, pilots: tuple[str, ...],
                 metric: str | None, model: str | None, prices: str | None,
                 samples: int | None, epochs: int, concurrency: int | None,
                 store: str | None, fmt: str, as_json: bool) -> None:
    """Plan an eval before spending money: samples needed, detectable effect, cost.

    Given a baseline accuracy (or a pilot run) and a difference to detect, it prints the
    samples needed, unpaired (two runs on different samples, per arm) and paired (both
    models on the same items, McNemar's test; needs the discordance, the share of items the
    two models score differently). With --n it prints the smallest difference that size
    detects. With a pilot run, every figure is also given per category, and the cost and
    wall time of the full run are forecast from the pilot's tokens and latency and the
    price table.

    \b
    Examples:
      evalstack plan --accuracy 0.5 --delta 0.05 --discordance 0.15
      evalstack plan --accuracy 0.7 --n 500 --discordance 0.15
      evalstack plan --pilot 01JD3K --delta 0.05 --samples 5000
      evalstack plan --pilot 01JD3K --pilot 01JD4M --delta 0.03 --json
    """
    from evalstack.analysis.plan import Design, forecast, plan_design
    from evalstack.core.errors import ConfigError

    design = Design(delta=delta, n=n, alpha=alpha, power=power, accuracy=accuracy,
                    discordance=discordance).check()
    if len(pilots) > 2:
        raise ConfigError(
            f"Expected at most two --pilot runs (a baseline, then a candidate); got "
            f"{len(pilots)}: {', '.join(pilots)}. Plan one pair at a time."
        )
    if not pilots:
        used = [flag for flag, value in (("--model", model), ("--samples", samples),
                                         ("--concurrency", concurrency), ("--metric", metric))
                if value is not None]
        if used:
            raise ConfigError(
                f"{', '.join(used)} need(s) a pilot run to forecast from; got no --pilot. "
                "Pass --pilot RUN_ID (see `evalstack runs`)."
            )
        plan = plan_design(design)
    else:
        from evalstack.cli._decide import load_runs
        from evalstack.model.prices import load_table

        loaded = load_runs(store, pilots)
        table = load_table(prices)
        plan = _with_forecasts(_plan_with_pilots(design, loaded, metric), [
            forecast(scores, table, model=model, samples=samples, epochs=epochs,
                     concurrency=concurrency) for _, scores in loaded
        ])
    fmt = "json" if as_json else fmt
    if fmt == "json":
        click.echo(json.dumps(plan.to_dict(), default=str))
        return
    from evalstack.cli.render import make_console

    render(plan, fmt, make_console())


def _plan_with_pilots(design: Any, loaded: list[Any], metric: str | None) -> Plan:
    """The plan from one pilot, or two matched sample by sample (refused if not comparable)."""
    from evalstack.analysis.pairs import mismatches, pair_runs, primary_metric
    from evalstack.analysis.plan import plan_from_pilots
    from evalstack.core.errors import UserError

    run_a, scores_a = loaded[0]
    pairing = None
    if len(loaded) == 2:
        run_b, scores_b = loaded[1]
        if run_a.id == run_b.id:
            raise UserError(
                f"The two --pilot runs are the same run ({run_a.id}); expected a baseline and "
                "a candidate. Pass two different runs."
            )
        diff = mismatches(run_a, run_b)
        if diff:
            raise UserError(
                f"Pilot runs {run_a.id} and {run_b.id} cannot be paired: {'; '.join(diff)}. "
                "Pilot both models on the same task version and data."
            )
        chosen = metric or primary_metric(run_a, scores_a.metric_names())
        pairing = pair_runs(scores_a, scores_b, [chosen] if chosen else None)
    return plan_from_pilots(design, scores_a, pairing, metric)


def _with_forecasts(plan: Plan, forecasts: list[Forecast]) -> Plan:
    from dataclasses import replace

    return replace(plan, forecasts=tuple(forecasts))


# --- rendering -------------------------------------------------------------------------------


def render(plan: Plan, fmt: str, console: Any) -> None:
    """Print a plan as tables and notes (``fmt`` is ``table`` or ``markdown``)."""
    d = plan.design
    level = f"alpha {d.alpha:g}, power {d.power * 100:g}%"
    if len(plan.pilots) == 2:
        say(fmt, console, f"Pilots: {plan.pilots[0]} (baseline) and {plan.pilots[1]}, "
            f"metric {plan.metric}", "bold")
    elif plan.pilots:
        say(fmt, console, f"Pilot: {plan.pilots[0]}, metric {plan.metric}", "bold")
    has_items = bool(plan.pilots)
    if d.delta is not None:
        table = Rows(f"Samples needed to detect a {_pts(d.delta)}-point difference "
                     f"({level})",
                     ["category", *(["items"] if has_items else []), "accuracy",
                      "discordance", "unpaired (per arm)", "paired (items)"],
                     right=range(1, 7))
        for r in plan.rows:
            planned = _pct(r.accuracy) if r.target is None else \
                f"{_pct(r.accuracy)} -> {_pct(r.target)}"
            paired = _int(r.n_paired) if r.discordance is not None else "needs discordance"
            table.add(r.category, *([_int(r.items)] if has_items else []), planned,
                      _psi(r.discordance, r.discordance_source), _int(r.n_unpaired), paired)
        table.print(fmt, console)
    if d.n is not None:
        table = Rows(f"Detectable at n={d.n}, in points ({level})",
                     ["category", "n", "accuracy", "discordance", "unpaired", "paired"],
                     right=(1, 2, 3, 4, 5))
        for r in plan.rows:
            table.add(r.category, _int(r.mde_at), _pct(r.accuracy),
                      _psi(r.discordance, r.discordance_source), _mde(r.mde_unpaired),
                      _mde(r.mde_paired) if r.discordance is not None else "needs discordance")
        table.print(fmt, console)
        if len(plan.rows) > 1:
            say(fmt, console, f"Note: categories get n in proportion to their share of the pilot's "
                f"items (n={d.n} overall).")
    if d.delta is None and d.n is None:
        table = Rows("Pilot accuracy and discordance",
                     ["category", "items", "accuracy", "discordance"], right=(1, 2, 3))
        for r in plan.rows:
            table.add(r.category, _int(r.items), _pct(r.accuracy),
                      _psi(r.discordance, r.discordance_source))
        table.print(fmt, console)
    for note in plan.notes:
        say(fmt, console, f"Note: {note}")
    for r in plan.rows:
        for note in dict.fromkeys(r.notes):
            say(fmt, console, f"Note ({r.category}): {note}")
    for f in plan.forecasts:
        _render_forecast(f, fmt, console)


def _render_forecast(f: Forecast, fmt: str, console: Any) -> None:
    epochs = f"{f.epochs} epoch" + ("s" if f.epochs != 1 else "")
    if f.pricing == "priced":
        price = f"${f.input_per_m:g} in / ${f.output_per_m:g} out per 1M tokens"
    elif f.pricing == "free":
        price = "free (local model)"
    else:
        price = "unknown price (not in the price table)"
    table = Rows(f"Cost forecast: {f.model}, {f.samples} samples x {epochs} (95% intervals)",
                 ["quantity", "per sample", "95% CI", "run total", "95% CI"],
                 right=(1, 2, 3, 4))
    table.add("input tokens", *_pair(f.input_tokens, f.total_input_tokens, _tokens))
    table.add("output tokens", *_pair(f.output_tokens, f.total_output_tokens, _tokens))
    if f.pricing == "free":
        table.add("cost (USD)", "free", "", "free (local model)", "")
    elif f.pricing == "unknown" or f.cost_usd is None:
        table.add("cost (USD)", "unknown", "", "unknown", "")
    else:
        per = f.cost_usd.scaled(1 / (f.samples * f.epochs))
        table.add("cost (USD)", *_pair(per, f.cost_usd, _usd))
    wall = f.wall_seconds
    table.add("latency / wall time", *_pair(f.latency_ms, wall, _ms, _duration))
    table.print(fmt, console)
    say(fmt, console, f"From pilot {f.pilot} ({f.pilot_samples} samples) at concurrency "
        f"{f.concurrency}; price: {price}.")
    for note in f.notes:
        if f.pricing != "free" or "free (local model)" not in note:
            say(fmt, console, f"Note: {note}")


def _pair(per: StatResult | None, total: StatResult | None, fmt_per: Any,
          fmt_total: Any = None) -> list[str]:
    fmt_total = fmt_total or fmt_per
    out = []
    for value, fn in ((per, fmt_per), (total, fmt_total)):
        if value is None:
            out += ["-", ""]
        else:
            out += [fn(value.estimate), f"[{fn(value.ci_low)}, {fn(value.ci_high)}]"]
    return out


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _pts(value: float) -> str:
    return f"{value * 100:g}"


def _int(value: int | None) -> str:
    return "-" if value is None else str(value)


def _mde(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}"


def _psi(value: float | None, source: str | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.1f}%" + (f" ({source})" if source else "")


def _tokens(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _usd(value: float) -> str:
    if value == 0:
        return "$0"
    if value >= 100:
        return f"${value:,.0f}"
    if value >= 0.01:
        return f"${value:.2f}"
    return "$" + f"{value:.8f}".rstrip("0")


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.2f} ms"


def _duration(seconds: float) -> str:
    """A wall time people read: ``0.4s``, ``45s``, ``3m 20s``, ``2h 05m``."""
    if seconds < 1:
        return "<1s"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"
