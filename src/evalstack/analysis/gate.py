"""The deploy gate: is the candidate no worse than the baseline, beyond an allowed drop?

Each check (the metric overall, and each category given a threshold) ends in one of three
decisions:

- ``pass``: a non-inferiority test at level ``alpha`` rules out a drop larger than the margin
  (the one-sided lower bound of ``candidate - baseline`` lies above ``-max_drop``);
- ``fail``: the candidate is significantly worse (a one-sided test at ``alpha``: the exact
  McNemar test for binary scores; Holm-corrected across the checks) and the observed drop
  exceeds the margin;
- ``inconclusive``: neither; the eval is too small to tell. The check says how many samples
  would rule out a drop of the margin (with 80% power, taking the observed drop, if any, as
  the true one).

So under no true difference the gate fails at most ``alpha`` of the time, and a real drop as
large as the one ``evalstack plan`` sized the eval for is caught with the planned power.

The gate exits 0 if every check passes, 1 if any fails, 2 otherwise (inconclusive).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evalstack.analysis.compare import RunRef
from evalstack.analysis.judges import judge_notes, require_same_judges
from evalstack.analysis.pairs import MetricPairs, Pairing, mismatches, primary_metric
from evalstack.analysis.text import fmt_delta, fmt_interval, fmt_p
from evalstack.core import checks
from evalstack.core.errors import ConfigError, UserError
from evalstack.stats import holm, mcnemar, noninferiority, sample_size_noninferiority

Decision = Literal["pass", "fail", "inconclusive"]
EXIT_CODES: dict[str, int] = {"pass": 0, "fail": 1, "inconclusive": 2}
DEFAULT_MAX_DROP = 0.02


class GateConfig(BaseModel):
    """The gate's thresholds, from flags or a YAML file (unknown keys are errors).

    Example file::

        metric: acc          # default: the task's first scorer
        alpha: 0.05
        max_drop: 0.02       # allowed drop overall (a proportion: 0.02 is 2 points)
        categories:          # allowed drop per category; "*" applies to every other one
          algebra: 0.05
          "*": 0.10
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str | None = None
    alpha: float = Field(0.05, gt=0, lt=0.5)
    power: float = Field(0.8, gt=0, lt=1)
    max_drop: float = Field(DEFAULT_MAX_DROP, ge=0, le=1)
    categories: dict[str, float] = Field(default_factory=dict)

    @field_validator("alpha", mode="before")
    @classmethod
    def _alpha(cls, value: Any) -> float:
        return checks.field_check(checks.in_range, "alpha", value, low=0, high=0.5,
                                  low_open=True, high_open=True, what="a significance level",
                                  example="0.05")

    @field_validator("power", mode="before")
    @classmethod
    def _power(cls, value: Any) -> float:
        return checks.field_check(checks.proportion, "power", value, low_open=True,
                                  high_open=True, example="0.8")

    @field_validator("max_drop", mode="before")
    @classmethod
    def _max_drop(cls, value: Any) -> float:
        return checks.field_check(checks.proportion, "max_drop", value, example="0.02")

    @field_validator("categories", mode="before")
    @classmethod
    def _drops(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # pydantic says it should be a mapping
        return {name: checks.field_check(checks.proportion, f"the max drop of category "
                                         f"{name!r}", drop, example="0.05")
                for name, drop in value.items()}

    def margin_for(self, category: str) -> float | None:
        if category in self.categories:
            return self.categories[category]
        return self.categories.get("*")


def load_gate_config(path: str | Path) -> GateConfig:
    """Read and validate a gate YAML file; errors name the file and the field."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read gate config {p}: {exc.strerror or exc}.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"Gate config {p} is not valid YAML: {exc}.") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"Gate config {p}: expected a mapping with keys metric, alpha, power, max_drop, "
            f"categories; received {type(raw).__name__}."
        )
    try:
        return GateConfig.model_validate(raw)
    except ValidationError as exc:
        # a range check's message names its field already; others get pydantic's location
        problems = "; ".join(
            e["msg"] if e["type"] == "out_of_range"
            else f"{'.'.join(str(x) for x in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        end = "" if problems.endswith(("?", ".")) else "."
        raise ConfigError(
            f"Gate config {p}: {problems}{end} Expected keys: metric (name), alpha (0-0.5), "
            "power (0-1), max_drop (a proportion, 0-1), categories (name: max drop)."
        ) from None


@dataclass(frozen=True)
class Check:
    """One gate check: a metric overall or in one category, against its allowed drop."""

    metric: str
    category: str | None
    kind: str
    max_drop: float
    n: int
    items: int
    epochs: int
    baseline: float
    candidate: float
    delta: float
    lower: float
    upper: float
    p_noninferior: float
    p_regression: float
    p_regression_adjusted: float
    method: str
    decision: Decision = "inconclusive"
    needed_items: int | None = None
    reason: str = ""

    @property
    def name(self) -> str:
        return f"{self.metric} [{self.category or 'overall'}]"


@dataclass(frozen=True)
class GateResult:
    """The gate's decision with the evidence for each check."""

    baseline: RunRef
    candidate: RunRef
    alpha: float
    checks: list[Check]
    decision: Decision
    mismatches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    judge_mismatches: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.decision]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["exit_code"] = self.exit_code
        return d


def evaluate_check(
    pairs: MetricPairs, category: str | None, max_drop: float, alpha: float
) -> Check:
    """The non-inferiority and regression statistics of one check (decided later, jointly)."""
    if pairs.n == 0:
        nan = math.nan
        return Check(pairs.metric, category, pairs.kind, max_drop, 0, 0, 1, nan, nan, nan, nan,
                     nan, 1.0, 1.0, 1.0, "none", "inconclusive", None,
                     "no paired samples: both runs must score the same samples")
    clusters = pairs.clusters
    kind = pairs.kind if pairs.kind == "binary" else "continuous"
    ni = noninferiority(pairs.a, pairs.b, max_drop, alpha=alpha, kind=kind, clusters=clusters)
    p_worse = _p_worse(pairs, kind, alpha)
    return Check(
        metric=pairs.metric, category=category, kind=pairs.kind, max_drop=max_drop, n=pairs.n,
        items=pairs.items, epochs=pairs.epochs, baseline=float(pairs.a.mean()),
        candidate=float(pairs.b.mean()), delta=float(ni.estimate), lower=float(ni.ci_low),
        upper=float(ni.ci_high), p_noninferior=_p(ni.p_value), p_regression=p_worse,
        p_regression_adjusted=p_worse, method=ni.method,
        needed_items=_needed(ni.se, pairs, max_drop, alpha, float(ni.estimate)),
    )


def _p_worse(pairs: MetricPairs, kind: str, alpha: float) -> float:
    """One-sided p-value of "the candidate is worse than the baseline".

    Binary scores without repeats use the exact one-sided McNemar test (the binomial test on
    the discordant pairs), which never rejects more often than ``alpha`` under no change;
    other scores use the normal test on the paired differences (clustered by sample).
    """
    if kind == "binary" and pairs.clusters is None:
        r = mcnemar(pairs.a, pairs.b, exact=True)
        two_sided = _p(r.p_value)
        return two_sided / 2 if r.estimate < 0 else 1 - two_sided / 2
    worse = noninferiority(pairs.b, pairs.a, 0.0, alpha=alpha, kind=kind,
                           clusters=pairs.clusters)
    return _p(worse.p_value)


def decide(checks: list[Check], alpha: float) -> list[Check]:
    """Holm-correct the regression tests across checks and give each check its decision."""
    testable = [i for i, c in enumerate(checks) if c.n > 0]
    adjusted = holm([checks[i].p_regression for i in testable], alpha=alpha).p_values
    out = list(checks)
    for i, p_adj in zip(testable, adjusted, strict=True):
        c = replace(checks[i], p_regression_adjusted=float(p_adj))
        out[i] = replace(c, decision=_decision(c, alpha), reason=_reason(c, alpha))
    return out


def _decision(c: Check, alpha: float) -> Decision:
    if c.p_noninferior < alpha:
        return "pass"
    if c.p_regression_adjusted < alpha and c.delta < -c.max_drop:
        return "fail"
    return "inconclusive"


def _reason(c: Check, alpha: float) -> str:
    pts = " points"
    drop = fmt_delta(c.max_drop, True, signed=False)
    ci = fmt_interval(c.lower, c.upper, True)
    delta = f"{fmt_delta(c.delta, True)}{pts} {ci}"
    decision = _decision(c, alpha)
    if decision == "pass":
        return (f"no drop beyond {drop}{pts}: delta {delta}, non-inferiority "
                f"{fmt_p(c.p_noninferior)}")
    if decision == "fail":
        return (f"regression: delta {delta} exceeds the allowed drop of {drop}{pts}; "
                f"worse than baseline at {fmt_p(c.p_regression_adjusted)} (Holm)")
    if c.needed_items:
        need = (f"about {c.needed_items:,} samples would rule out a drop of {drop}{pts} "
                f"(have {c.items:,}) if the true change is "
                f"{fmt_delta(min(c.delta, 0.0), True)}{pts}")
    elif c.max_drop <= 0:
        need = "a max drop of 0 can never be shown; allow a drop with --max-drop"
    else:
        need = ("the observed drop already reaches the allowed one: more samples would more "
                "likely confirm a regression than rule it out")
    return f"inconclusive: delta {delta} cannot rule out a drop of {drop}{pts}; {need}"


def _needed(
    se: float | None, pairs: MetricPairs, margin: float, alpha: float, delta: float
) -> int | None:
    """Samples needed to rule out a drop of ``margin`` with 80% power.

    The true difference is taken to be the observed one when that is a drop, else zero (no
    credit for an observed gain). ``None`` when the observed drop already reaches the margin:
    then no sample size would show that the candidate is no worse.
    """
    expected = min(delta, 0.0)
    if margin + expected <= 0 or se is None or not math.isfinite(se) or se <= 0:
        return None
    units = pairs.items if pairs.clusters is not None else pairs.n
    sd = se * math.sqrt(units)
    return sample_size_noninferiority(margin, sd, alpha=alpha, power=0.8,
                                      expected_delta=expected).n


def _p(p: float | None) -> float:
    return 1.0 if p is None or not math.isfinite(p) else float(p)


def run_gate(
    pairing: Pairing, config: GateConfig, *, allow_judge_mismatch: bool = False
) -> GateResult:
    """Build the checks from the config, test them and combine their decisions.

    Raises:
        UserError: the runs lack the metric, the thresholds name unknown categories, or the
            gated metric was scored by different judges (model, reported version or template
            hash) in the two runs, unless ``allow_judge_mismatch``.
    """
    run_a, run_b = pairing.a.run, pairing.b.run
    names = list(pairing.metrics)
    metric = config.metric or primary_metric(run_a, names)
    if metric is None or metric not in pairing.metrics:
        raise UserError(
            f"The runs share no scored metric{f' named {metric!r}' if metric else ''}; "
            f"metrics in both: {', '.join(names) or 'none'}. Pass one with --metric."
        )
    judges = require_same_judges(pairing.a, pairing.b, [metric], ("baseline", "candidate"),
                                 allow=allow_judge_mismatch, action="gate")
    pairs = pairing.metrics[metric]
    checks = [evaluate_check(pairs, None, config.max_drop, config.alpha)]
    by_cat = pairs.by_category()
    unknown = sorted(set(config.categories) - set(by_cat) - {"*"})
    if unknown:
        raise UserError(
            f"Gate thresholds name categories the runs do not have: {', '.join(unknown)}. "
            f"Categories in the runs: {', '.join(by_cat) or 'none'}."
        )
    for cat, sub in by_cat.items():
        margin = config.margin_for(cat)
        if margin is not None:
            checks.append(evaluate_check(sub, cat, margin, config.alpha))
    checks = decide(checks, config.alpha)
    decisions = {c.decision for c in checks}
    decision: Decision = (
        "fail" if "fail" in decisions else "inconclusive" if "inconclusive" in decisions
        else "pass"
    )
    notes = []
    left_out = len(pairing.only_a) + len(pairing.only_b) + len(pairing.errored)
    if left_out:
        notes.append(
            f"Not compared: {len(pairing.only_a)} sample(s) only in the baseline, "
            f"{len(pairing.only_b)} only in the candidate, {len(pairing.errored)} errored."
        )
    if pairs.epochs > 1:
        notes.append(f"{pairs.items} samples x {pairs.epochs} epochs: intervals are clustered "
                     "by sample.")
    return GateResult(
        baseline=RunRef.of("baseline", run_a), candidate=RunRef.of("candidate", run_b),
        alpha=config.alpha, checks=checks, decision=decision,
        mismatches=mismatches(run_a, run_b) if run_a and run_b else [],
        notes=notes + judge_notes(judges), judge_mismatches=judges,
    )

