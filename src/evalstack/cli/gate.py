"""``evalstack gate --baseline RUN --candidate RUN``: the deploy gate for CI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from evalstack.cli._decide import Rows, format_options, load_runs, say
from evalstack.cli.options import ALPHA

# Exit codes 0, 1 and 2 are the gate's decisions; anything that stops the gate from deciding
# (a bad flag, an unknown run, an unreadable config) exits with at least this code.
ERROR_EXIT = 3


class GateCommand(click.Command):
    """Keeps exit codes 1 and 2 for decisions: usage and input errors exit with 3 or more."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        from evalstack.core.errors import EvalstackError

        try:
            return super().make_context(*args, **kwargs)
        except (click.ClickException, EvalstackError) as exc:  # checked flag types raise these
            # a ClassVar in click's stubs; set per instance so only this error exits higher
            exc.exit_code = max(exc.exit_code, ERROR_EXIT)  # type: ignore[misc, unused-ignore]
            raise

    def invoke(self, ctx: click.Context) -> Any:
        from evalstack.core.errors import EvalstackError

        try:
            return super().invoke(ctx)
        except EvalstackError as exc:
            exc.exit_code = max(exc.exit_code, ERROR_EXIT)
            raise


def parse_drops(values: tuple[str, ...]) -> tuple[float | None, dict[str, float]]:
    """``--max-drop`` values: the overall drop (last bare one wins) and drops by category.

    Each drop is a proportion in [0, 1]; ``2`` is refused with "did you mean 0.02?".

    Examples:
        >>> parse_drops(("0.02", "algebra=0.05", "*=0.1"))
        (0.02, {'algebra': 0.05, '*': 0.1})
    """
    from evalstack.core.checks import proportion
    from evalstack.core.errors import ConfigError

    overall: float | None = None
    cats: dict[str, float] = {}
    for raw in values:
        name, sep, number = raw.rpartition("=")
        try:
            float(number)
        except ValueError:
            number = ""
        if not number.strip() or (sep and not name):
            raise ConfigError(
                f"--max-drop expects a proportion such as 0.02, or CATEGORY=0.05; got {raw!r}."
            )
        flag = f"the --max-drop of category {name!r}" if sep else "--max-drop"
        drop = proportion(flag, number, example="0.02")
        if sep:
            cats[name] = drop
        else:
            overall = drop
    return overall, cats


@click.command("gate", cls=GateCommand)
@click.option("--baseline", required=True,
              help="The reference: a run id, unique prefix, or baseline name.")
@click.option("--candidate", required=True, help="The run to ship: id, prefix or baseline name.")
@click.option("--metric", default=None, help="The metric to gate on (default: the task's first "
                                             "scorer).")
@click.option("--max-drop", "max_drops", multiple=True, metavar="DROP | CATEGORY=DROP",
              help="Allowed drop as a proportion (0.02 = 2 points). Bare: overall (default "
                   "0.02). CATEGORY=DROP: also check that category; '*=DROP' checks every "
                   "category. Repeatable; overrides the config file.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="A YAML file with metric, alpha, max_drop and categories (see below).")
@click.option("--alpha", type=ALPHA, default=None,
              help="Significance level of the tests, in (0, 0.5) [default: 0.05].")
@click.option("--junit", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write JUnit XML here (one test case per check).")
@click.option("--summary", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).")
@click.option("--allow-mismatch", is_flag=True,
              help="Gate runs of different task versions or data anyway.")
@click.option("--allow-judge-mismatch", is_flag=True,
              help="Gate a judged metric even when the runs' judges differ (model, version "
                   "or template hash); the difference is reported as a note.")
@format_options
def gate_command(baseline: str, candidate: str, metric: str | None, max_drops: tuple[str, ...],
                 config_path: str | None, alpha: float | None, junit: str | None,
                 summary: str | None, allow_mismatch: bool, allow_judge_mismatch: bool,
                 store: str | None, fmt: str, as_json: bool) -> None:
    """Decide whether CANDIDATE may replace BASELINE, with a non-inferiority test.

    \b
    Exit codes:
      0  pass: a drop larger than the allowed one is ruled out (at --alpha)
      1  regression: the candidate is significantly worse, beyond the allowed drop
      2  inconclusive: the eval is too small to rule out such a drop; the message
         says how many samples would
      3+ the gate could not run (bad flags, unknown run, unreadable config, or a
         judged metric scored by different judges without --allow-judge-mismatch)

    Each check compares the two runs sample by sample (McNemar-style for binary scores,
    clustered by sample with several epochs). Regression tests are Holm-corrected across
    the checks, so with no real change the gate fails at most alpha of the time.

    \b
    Config file (--config gate.yaml):
      metric: acc
      alpha: 0.05
      max_drop: 0.02      # overall
      categories:         # per category; "*" for every other one
        algebra: 0.05
        "*": 0.10

    \b
    Examples:
      evalstack baseline set prod 01JD3K
      evalstack gate --baseline prod --candidate 01JD4M --max-drop 0.02 \\
          --junit gate.xml --summary "$GITHUB_STEP_SUMMARY"
      evalstack gate --baseline prod --candidate 01JD4M --max-drop 0.02 --max-drop '*=0.1'
    """
    from evalstack.analysis.gate import GateConfig, load_gate_config, run_gate
    from evalstack.analysis.gate_report import headline, junit_xml, markdown_summary
    from evalstack.analysis.pairs import mismatches, pair_runs
    from evalstack.cli.render import make_console
    from evalstack.cli.safe import echo
    from evalstack.core.errors import UserError

    fmt = "json" if as_json else fmt
    config = load_gate_config(config_path) if config_path else GateConfig()
    overall, cats = parse_drops(max_drops)
    updates: dict[str, Any] = {}
    if overall is not None:
        updates["max_drop"] = overall
    if cats:
        updates["categories"] = {**config.categories, **cats}
    if metric is not None:
        updates["metric"] = metric
    if alpha is not None:
        updates["alpha"] = alpha
    config = config.model_copy(update=updates)
    (base_run, base_scores), (cand_run, cand_scores) = load_runs(store, [baseline, candidate])
    diff = mismatches(base_run, cand_run)
    if diff and not allow_mismatch:
        raise UserError(
            f"Baseline {base_run.id} and candidate {cand_run.id} are not comparable: "
            f"{'; '.join(diff)}. Gate runs of the same task version on the same data, or pass "
            "--allow-mismatch."
        )
    pairing = pair_runs(base_scores, cand_scores, [config.metric] if config.metric else None)
    result = run_gate(pairing, config, allow_judge_mismatch=allow_judge_mismatch)
    if junit:
        _write(junit, junit_xml(result))
    if summary:
        _write(summary, markdown_summary(result), append=True)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), default=str))
    elif fmt == "markdown":
        echo(markdown_summary(result))
    else:
        _print(result, make_console(), headline(result))
    click.get_current_context().exit(result.exit_code)


def _write(path: str, text: str, append: bool = False) -> None:
    from evalstack.core.errors import ConfigError

    try:
        with Path(path).open("a" if append else "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise ConfigError(f"Cannot write {path}: {exc.strerror or exc}.") from None


def _print(result: Any, console: Any, line: str) -> None:
    from evalstack.analysis.text import fmt_delta, fmt_interval, fmt_p, fmt_value

    level = f"{100 * (1 - 2 * result.alpha):g}%"
    rows = Rows(f"gate: candidate {result.candidate.run_id} ({result.candidate.model}) vs "
                f"baseline {result.baseline.run_id} ({result.baseline.model})",
                ["check", "decision", "baseline", "candidate", "delta", f"{level} CI",
                 "allowed drop", "n", "p no worse", "p worse (Holm)"],
                right=(2, 3, 4, 5, 6, 7, 8, 9))
    for c in result.checks:
        rows.add(c.name, c.decision.upper(), fmt_value(c.baseline, True),
                 fmt_value(c.candidate, True), fmt_delta(c.delta, True),
                 fmt_interval(c.lower, c.upper, True), fmt_delta(c.max_drop, True, False),
                 c.n, fmt_p(c.p_noninferior).removeprefix("p="),
                 fmt_p(c.p_regression_adjusted).removeprefix("p="))
    rows.print("table", console)
    style = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow"}
    say("table", console, line, style[result.decision])
    for c in result.checks:
        if c.decision != "pass":
            say("table", console, f"  {c.name}: {c.reason}")
    for note in result.mismatches + result.notes:
        say("table", console, f"Note: {note}")
