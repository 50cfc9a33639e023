"""Judged metrics in stored runs: which judge scored them, and how much a jury agreed.

A judge's score is only comparable with another judge's score when both came from the same
judge model, the same model version and the same prompt template (whose hash covers the
rubric). ``judge_setups`` reads those three from each stored score's ``metadata["judge"]``, and
``check_same_judges`` says, one sentence per metric, where two runs differ, so ``compare`` and
``gate`` can refuse to attribute a judge change to the model under test.

``jury_agreement`` measures how consistently the jurors of an ``llm_jury`` metric rated the
same answers: Krippendorff's alpha on the jurors' overall scores (interval and ordinal),
Fleiss' kappa on those scores rounded to the rubric's levels, and Cohen's quadratic-weighted
kappa for every pair of jurors, each with a percentile bootstrap interval over the rated
samples (see ``evalstack.stats.agreement`` for the methods and references).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from evalstack.analysis.pairs import RunScores
from evalstack.core.errors import UserError
from evalstack.core.records import ScoreRow
from evalstack.stats import StatResult, cohen_kappa, fleiss_kappa, krippendorff_alpha

HASH_CHARS = 12  # template hashes are shown abbreviated, like git revisions


class JudgeSetup(NamedTuple):
    """What a judge's scores depend on besides the answer: model, reported version, template.

    Examples:
        >>> JudgeSetup("openai/gpt-4o", "gpt-4o-2024-08-06", "ab" * 32).describe()
        'openai/gpt-4o (version gpt-4o-2024-08-06, template abababababab)'
    """

    model: str
    version: str | None
    template_hash: str | None

    def describe(self) -> str:
        """The setup in words, with the template hash abbreviated."""
        return (f"{self.model} (version {self.version or 'not reported'}, "
                f"template {_short(self.template_hash)})")


def _short(digest: str | None) -> str:
    return digest[:HASH_CHARS] if digest else "not recorded"


def _setup(score: Any) -> JudgeSetup | None:
    meta = score.get("metadata") if isinstance(score, dict) else None
    judge = meta.get("judge") if isinstance(meta, dict) else None
    if not isinstance(judge, dict) or not judge.get("model"):
        return None
    version, digest = judge.get("version"), judge.get("template_hash")
    return JudgeSetup(str(judge["model"]), None if version is None else str(version),
                      None if digest is None else str(digest))


def judge_setups(rows: Iterable[ScoreRow]) -> dict[str, frozenset[JudgeSetup]]:
    """Each judged metric's judge setups, from the run's successful samples.

    A metric is judged when its stored scores carry ``metadata["judge"]`` (as ``llm_judge``
    and ``llm_jury`` record); other metrics do not appear. More than one setup for a metric
    means the run mixes judges, e.g. a resumed run whose judge model was updated in between.

    Examples:
        >>> meta = {"judge": {"model": "m", "version": "v1", "template_hash": "h"}}
        >>> rows = [ScoreRow("q1", 0, {"j": {"value": 1.0, "metadata": meta},
        ...                            "acc": {"value": 1.0}}, None, False, None, None, None,
        ...                  0.0, None)]
        >>> judge_setups(rows)
        {'j': frozenset({JudgeSetup(model='m', version='v1', template_hash='h')})}
    """
    out: dict[str, set[JudgeSetup]] = {}
    for row in rows:
        if row.error is not None:
            continue
        for name, score in row.scores.items():
            setup = _setup(score)
            if setup is not None:
                out.setdefault(name, set()).add(setup)
    return {name: frozenset(setups) for name, setups in sorted(out.items())}


@dataclass(frozen=True)
class JudgeMismatch:
    """One metric that two runs' judges scored differently.

    Attributes:
        metric: the scorer name.
        a / b: each run's judge setups for the metric (sorted; empty when none is recorded).
        labels: how the two runs are named in the sentence (``A``/``B``, ``baseline``/...).
    """

    metric: str
    a: tuple[JudgeSetup, ...]
    b: tuple[JudgeSetup, ...]
    labels: tuple[str, str] = ("A", "B")

    def differs(self) -> list[str]:
        """The fields that differ between two single setups: model, version, template hash."""
        if len(self.a) != 1 or len(self.b) != 1:
            return []
        sa, sb = self.a[0], self.b[0]
        return [f for f in JudgeSetup._fields if getattr(sa, f) != getattr(sb, f)]

    def sentence(self) -> str:
        """What differs, in one plain sentence.

        Examples:
            >>> m = JudgeMismatch("llm_judge", (JudgeSetup("m", "v1", "a" * 64),),
            ...                   (JudgeSetup("m", "v1", "b" * 64),))
            >>> m.sentence()  # doctest: +NORMALIZE_WHITESPACE
            'llm_judge: the judge template hash differs: aaaaaaaaaaaa in A, bbbbbbbbbbbb in B
             (judge m, version v1).'
        """
        la, lb = self.labels
        fields = self.differs()
        if fields == ["template_hash"] or fields == ["version"]:
            field = fields[0]
            sa, sb = self.a[0], self.b[0]
            if field == "template_hash":
                what = "template hash"
                va, vb = _short(sa.template_hash), _short(sb.template_hash)
                same = f"judge {sa.model}, version {sa.version or 'not reported'}"
            else:
                what = "reported version"
                va, vb = sa.version or "not reported", sb.version or "not reported"
                same = f"judge {sa.model}, template {_short(sa.template_hash)}"
            return f"{self.metric}: the judge {what} differs: {va} in {la}, {vb} in {lb} ({same})."
        if fields:
            return (f"{self.metric}: judged by {self.a[0].describe()} in {la} but by "
                    f"{self.b[0].describe()} in {lb}.")
        return f"{self.metric}: {self._side(la, self.a)}; {self._side(lb, self.b)}."

    @staticmethod
    def _side(label: str, setups: tuple[JudgeSetup, ...]) -> str:
        if not setups:
            return f"{label} records no judge"
        if len(setups) == 1:
            return f"{label} was judged by {setups[0].describe()}"
        listed = "; ".join(s.describe() for s in setups)
        return f"{label} mixes {len(setups)} judge setups ({listed})"


def judge_mismatches(
    a: RunScores,
    b: RunScores,
    metrics: Sequence[str] | None = None,
    labels: tuple[str, str] = ("A", "B"),
) -> list[JudgeMismatch]:
    """The judged metrics (of ``metrics``; default all) whose judge setups are not one and
    the same in both runs: a different model, version or template hash, or a run that mixes
    several setups. Metrics no run judged are never a mismatch."""
    ja = judge_setups(a.rows.values())
    jb = judge_setups(b.rows.values())
    names = list(metrics) if metrics is not None else sorted(set(ja) | set(jb))
    out = []
    for name in names:
        sa, sb = ja.get(name, frozenset()), jb.get(name, frozenset())
        if not sa and not sb:
            continue
        if sa != sb or len(sa) > 1:
            out.append(JudgeMismatch(name, tuple(sorted(sa, key=_key)),
                                     tuple(sorted(sb, key=_key)), labels))
    return out


def _key(s: JudgeSetup) -> tuple[str, str, str]:
    return (s.model, s.version or "", s.template_hash or "")


def check_same_judges(
    a: RunScores,
    b: RunScores,
    metrics: Sequence[str] | None = None,
    labels: tuple[str, str] = ("A", "B"),
) -> list[str]:
    """One plain sentence per judged metric whose judges differ between the runs (none: [])).

    Examples:
        >>> def run(digest):
        ...     meta = {"judge": {"model": "openai/gpt-4o", "version": "v1",
        ...                       "template_hash": digest}}
        ...     return RunScores.from_rows(None, [ScoreRow(
        ...         "q1", 0, {"llm_judge": {"value": 0.5, "metadata": meta}}, None, False,
        ...         None, None, None, 0.0, None)])
        >>> check_same_judges(run("1" * 64), run("1" * 64))
        []
        >>> check_same_judges(run("1" * 64), run("2" * 64))  # doctest: +NORMALIZE_WHITESPACE
        ['llm_judge: the judge template hash differs: 111111111111 in A, 222222222222 in B
          (judge openai/gpt-4o, version v1).']
    """
    return [m.sentence() for m in judge_mismatches(a, b, metrics, labels)]


ALLOW_FLAG = "--allow-judge-mismatch"


def require_same_judges(
    a: RunScores,
    b: RunScores,
    metrics: Sequence[str] | None = None,
    labels: tuple[str, str] = ("A", "B"),
    *,
    allow: bool = False,
    action: str = "compare",
) -> list[str]:
    """``check_same_judges``, refusing with a ``UserError`` unless ``allow``.

    Args:
        a / b / metrics / labels: as for ``check_same_judges``.
        allow: return the differences instead of refusing.
        action: the verb of the refusal's fix: "pass --allow-judge-mismatch to {action}
            anyway" (``compare``, ``gate``).

    Returns:
        The sentences (empty when the judges match); with ``allow``, for the report's notes.

    Raises:
        UserError: the judges differ and ``allow`` is false. The message names the runs,
            says what differs, and how to compare anyway.
    """
    found = check_same_judges(a, b, metrics, labels)
    if found and not allow:
        raise UserError(
            f"Runs {a.run_id} ({labels[0]}) and {b.run_id} ({labels[1]}) were scored by "
            f"different judges, so a difference could come from the judge rather than the "
            f"model: {' '.join(found)} Score both runs with the same judge model, version and "
            f"template, or pass {ALLOW_FLAG} (allow_judge_mismatch=True) to {action} anyway."
        )
    return found


def judge_notes(found: Sequence[str]) -> list[str]:
    """The report's warning when runs judged differently were compared anyway."""
    if not found:
        return []
    return [f"Judges differ ({ALLOW_FLAG}): {' '.join(found)} A change on these metrics "
            "may come from the judge, not the model."]


# --- jury agreement -----------------------------------------------------------------------


@dataclass(frozen=True)
class JurorPair:
    """Cohen's quadratic-weighted kappa between two jurors, on the samples both rated."""

    a: str
    b: str
    kappa: StatResult


@dataclass(frozen=True)
class JuryAgreement:
    """How consistently an ``llm_jury`` metric's jurors rated the same answers.

    Attributes:
        metric: the scorer name.
        jurors: the jurors' models, in the jury's order (repeats numbered ``#2``, ...).
        n: the rated samples (``(sample_id, epoch)``; each epoch's answer is its own item).
        scale: the rubric's scale ``(min, max)`` of the overall scores.
        alpha_interval / alpha_ordinal: Krippendorff's alpha on the overall scores.
        fleiss: Fleiss' kappa on the overall scores rounded to the scale's integer levels
            (samples every juror rated).
        pairs: Cohen's quadratic kappa for each pair of jurors, on the rounded scores.
        confidence: the level of the bootstrap intervals.
    """

    metric: str
    jurors: tuple[str, ...]
    n: int
    scale: tuple[float, float]
    alpha_interval: StatResult
    alpha_ordinal: StatResult
    fleiss: StatResult
    pairs: tuple[JurorPair, ...]
    confidence: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: undefined statistics (``nan``) become ``None``."""
        def stat(r: StatResult) -> dict[str, Any]:
            return {"estimate": _num(r.estimate), "ci_low": _num(r.ci_low),
                    "ci_high": _num(r.ci_high), "n": r.n, "method": r.method}

        return {
            "metric": self.metric, "jurors": list(self.jurors), "n": self.n,
            "scale": list(self.scale), "confidence": self.confidence,
            "krippendorff_alpha_interval": stat(self.alpha_interval),
            "krippendorff_alpha_ordinal": stat(self.alpha_ordinal),
            "fleiss_kappa": stat(self.fleiss),
            "cohen_kappa_quadratic": [
                {"a": p.a, "b": p.b, **stat(p.kappa)} for p in self.pairs
            ],
        }


def _num(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def jury_metrics(rows: Iterable[ScoreRow]) -> list[str]:
    """The metrics whose stored scores carry a jury's per-juror verdicts, sorted.

    Examples:
        >>> meta = {"jurors": [{"judge": {"model": "a"}, "overall": 4.0}]}
        >>> jury_metrics([ScoreRow("q1", 0, {"jury": {"value": 1.0, "metadata": meta}},
        ...                         None, False, None, None, None, 0.0, None)])
        ['jury']
    """
    names: set[str] = set()
    for row in rows:
        if row.error is None:
            names.update(name for name, score in row.scores.items() if _jurors(score))
    return sorted(names)


def _jurors(score: Any) -> list[dict[str, Any]]:
    meta = score.get("metadata") if isinstance(score, dict) else None
    jurors = meta.get("jurors") if isinstance(meta, dict) else None
    if not isinstance(jurors, list):
        return []
    return [j for j in jurors if isinstance(j, dict)]


def _juror_name(juror: dict[str, Any], position: int) -> str:
    judge = juror.get("judge")
    model = judge.get("model") if isinstance(judge, dict) else None
    return str(model) if model else f"juror {position + 1}"


def _overall(juror: dict[str, Any]) -> float:
    value = juror.get("overall")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return math.nan


def jury_agreement(
    rows: Iterable[ScoreRow],
    metric: str,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> JuryAgreement | None:
    """The agreement of ``metric``'s jurors over a run's successful samples.

    The jurors are matched by position (the jury's order, which ``llm_jury`` keeps). Each
    ``(sample_id, epoch)`` is one rated item. Krippendorff's alpha uses the overall scores as
    given (a juror missing on a sample is a missing rating); Fleiss' and Cohen's kappa need
    categories, so they use the scores rounded to the nearest integer level of the scale.
    Intervals are percentile bootstraps over items, ``n_resamples`` each, seeded by ``seed``.

    Returns:
        ``None`` when ``metric`` has no jury verdicts or fewer than two jurors.

    Examples:
        >>> def row(sid, *overall):
        ...     jurors = [{"judge": {"model": m}, "overall": o, "scale": [1, 5]}
        ...               for m, o in zip("abc", overall)]
        ...     meta = {"jurors": jurors, "scale": [1, 5]}
        ...     return ScoreRow(sid, 0, {"jury": {"value": 0.5, "metadata": meta}}, None,
        ...                     False, None, None, None, 0.0, None)
        >>> rows = [row("1", 1, 1, 2), row("2", 3, 3, 3), row("3", 5, 4, 5), row("4", 2, 2, 1)]
        >>> ag = jury_agreement(rows, "jury", n_resamples=0)
        >>> ag.jurors, ag.n, round(ag.alpha_interval.estimate, 3), len(ag.pairs)
        (('a', 'b', 'c'), 4, 0.879, 3)
    """
    names: list[str] = []
    ratings: list[list[float]] = []
    scale: tuple[float, float] | None = None
    for row in rows:
        if row.error is not None or metric not in row.scores:
            continue
        score = row.scores[metric]
        verdicts = _jurors(score)
        if not verdicts or score.get("value") is None:
            continue
        if len(verdicts) > len(names):
            names = [_juror_name(j, i) for i, j in enumerate(verdicts)]
        ratings.append([_overall(j) for j in verdicts])
        if scale is None:
            scale = _scale(score.get("metadata", {}).get("scale"))
    if len(names) < 2 or not ratings:
        return None
    k = len(names)
    data = np.full((k, len(ratings)), np.nan)
    for i, values in enumerate(ratings):
        data[: len(values), i] = values
    rated = ~np.isnan(data)
    if scale is None:
        scale = (float(np.nanmin(data)), float(np.nanmax(data))) if rated.any() else (0.0, 1.0)
    levels = np.arange(math.ceil(scale[0]), math.floor(scale[1]) + 1, dtype=float)
    if levels.size == 0:
        levels = np.array([round(scale[0])], dtype=float)
    rounded = np.clip(np.rint(data), levels[0], levels[-1])

    # each statistic gets its own generator from the seed: the same numbers in any order
    def rng() -> np.random.Generator:
        return np.random.default_rng(seed)

    alpha_i = krippendorff_alpha(data, "interval", confidence, n_resamples, rng())
    alpha_o = krippendorff_alpha(data, "ordinal", confidence, n_resamples, rng())
    complete = rated.all(axis=0)
    fleiss = fleiss_kappa(rounded[:, complete].T, levels, confidence, n_resamples, rng())
    jurors = _numbered(names)
    pairs = []
    for i in range(k):
        for j in range(i + 1, k):
            both = rated[i] & rated[j]
            kappa = cohen_kappa(rounded[i, both], rounded[j, both], "quadratic", levels,
                                confidence, n_resamples, rng())
            pairs.append(JurorPair(jurors[i], jurors[j], kappa))
    return JuryAgreement(
        metric=metric, jurors=jurors, n=int(rated.any(axis=0).sum()), scale=scale,
        alpha_interval=alpha_i, alpha_ordinal=alpha_o, fleiss=fleiss, pairs=tuple(pairs),
        confidence=confidence,
    )


def _scale(raw: Any) -> tuple[float, float] | None:
    if (isinstance(raw, list | tuple) and len(raw) == 2
            and all(isinstance(x, int | float) for x in raw) and raw[0] < raw[1]):
        return float(raw[0]), float(raw[1])
    return None


def _numbered(names: Sequence[str]) -> tuple[str, ...]:
    """Repeated juror models numbered, so each juror has its own name: ``m``, ``m #2``."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return tuple(out)
