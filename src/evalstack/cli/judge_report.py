"""Printing a judge validation report: tables for the numbers, one line for the verdict."""

from __future__ import annotations

import math
from typing import Any

from evalstack.analysis.judge_validation import ValidationReport
from evalstack.cli._decide import Rows, say


def _iv(i: Any, digits: int = 3) -> str:
    """``0.712 [0.601, 0.803]`` for a StatResult."""
    if i is None:
        return "not measured"
    if not math.isfinite(i.estimate):
        return "undefined (a constant series)"
    if not (math.isfinite(i.ci_low) and math.isfinite(i.ci_high)):
        return f"{i.estimate:.{digits}f} [interval undefined]"
    return f"{i.estimate:.{digits}f} [{i.ci_low:.{digits}f}, {i.ci_high:.{digits}f}]"


def _pct(i: Any) -> str:
    if i is None:
        return "not measured"
    return f"{i.estimate:.1%} [{i.ci_low:.1%}, {i.ci_high:.1%}]"


def print_report(report: ValidationReport, fmt: str = "table", console: Any = None) -> None:
    """Print the report to ``console`` (a rich Console; stdout by default)."""
    if console is None:
        from evalstack.cli.safe import SafeConsole

        console = SafeConsole()
    judge = report.judge
    say(fmt, console, f"Judge validation: {judge.get('model')} (reported version "
        f"{judge.get('version') or 'unknown'}) on {report.labels}, {report.kind} labels", "bold")
    template = str(judge.get("template_hash"))[:12]
    say(fmt, console, f"Rubric {judge.get('rubric')}, template {template}. "
        f"{report.judged} of {report.n_items} items judged; {report.judge_errors} judge errors "
        f"(no usable verdict after retries; left out, never scored). Intervals: 95% bootstrap "
        f"(Wilson for rates).")

    a = report.agreement
    rows = Rows(f"Agreement with humans (n={a.n})", ["statistic", "estimate [95% CI]"], [1])
    rows.add("accuracy", _pct(a.accuracy))
    kappa = f"Cohen's kappa ({a.kappa_weights})" if a.kappa_weights else "Cohen's kappa"
    rows.add(kappa, _iv(a.kappa))
    rows.add("Spearman's rho", _iv(a.spearman))
    rows.print(fmt, console)

    cm = a.confusion
    table = Rows("Confusion matrix (rows: human, columns: judge; count, share [95% CI])",
                 ["human \\ judge", *cm.labels], range(1, len(cm.labels) + 1))
    for label, counts, shares in zip(cm.labels, cm.counts, cm.share, strict=True):
        table.add(label, *(f"{c} · {_pct(s)}" for c, s in zip(counts, shares, strict=True)))
    table.print(fmt, console)

    bias = Rows("Biases", ["check", "estimate [95% CI]", "what it means"], [1])
    bias.add("position: verdict flips when swapped", _pct(report.position_inconsistency),
             "share of pairs judged differently in the two orders (0% is ideal)")
    bias.add("position: first shown wins", _pct(report.first_position_wins),
             "among decisive single-order verdicts (50% is ideal)")
    for lift in report.lifts:
        bias.add(
            f"{lift.name} (n={lift.n})",
            f"{lift.delta.estimate:+.3f} [{lift.delta.ci_low:+.3f}, {lift.delta.ci_high:+.3f}]",
            f"score {lift.mean_clean:.3f} -> {lift.mean_probe:.3f}; {lift.flipped_to_pass} "
            f"became a pass; p={lift.p_value:.3g} (one-sided)",
        )
    for name, n in report.probe_errors.items():
        if n:
            bias.add(f"{name}: judge errors", str(n), "probe answers with no usable verdict")
    sp = report.self_preference
    if sp is not None:
        bias.add(f"self-preference ({sp.judge_family})", _iv(sp.gap),
                 f"judge on own family {sp.own.estimate:.3f} vs others "
                 f"{sp.others.estimate:.3f}, minus the human gap")
    bias.print(fmt, console)

    c = report.corrected
    if c is not None:
        est = Rows(f"Judge-corrected estimate of the human mean ({c.method}; "
                   f"{c.n_labeled} labelled, {c.n_unlabeled} judge-only items)",
                   ["estimate", "mean [95% CI]"], [1])
        est.add("judge only (biased if the judge is)", _iv(c.judge_only))
        est.add("human labels only", _iv(c.human_only))
        est.add("prediction-powered (use this)", _iv(c.corrected))
        est.print(fmt, console)

    for note in report.notes:
        say(fmt, console, f"Note: {note}")
    f = report.fitness
    head = {True: "FIT FOR PURPOSE", False: "NOT FIT FOR PURPOSE", None: "INCONCLUSIVE"}[f.fit]
    say(fmt, console, f"Verdict: {head} at {f.statistic} >= {f.threshold:g}.", "bold")
    for reason in f.reasons:
        say(fmt, console, f"- {reason}")
