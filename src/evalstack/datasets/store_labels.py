"""Human labels collected in the viewer, read back from the store as ``HumanLabels``.

``labels_from_store(store, run)`` turns the labels of one run into the items
``evalstack judge validate`` checks a judge against (``judge validate store:RUN``):

- **ratings**: one pointwise item per labelled sample. The human score is the mean of the
  per-criterion ratings on 1-5 when every label has ratings, otherwise the thumbs (up = 1,
  down = 0) when every label has thumbs; several labellers of one sample are averaged.
- **pairwise votes** (the run as A): one pairwise item per vote, with both runs' outputs.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean
from typing import Any

from evalstack.core.errors import ConfigError
from evalstack.datasets.labels import HumanLabels, LabelItem, scale_levels


def labels_from_store(store: Any, run_ref: str, kind: str | None = None) -> HumanLabels:
    """The viewer's labels of ``run_ref`` (``kind``: ``"rating"`` or ``"pairwise"``; by
    default ratings when there are any).

    Raises:
        ConfigError: the run has no labels of that kind, or ratings mix labels with and
            without per-criterion scores and thumbs, so no one scale fits them all.
    """
    run = store.resolve_run(run_ref)
    labels = [lb for lb in store.list_labels(run.id) if lb.run_id == run.id]
    kinds = {lb.kind for lb in labels}
    chosen = kind or ("rating" if "rating" in kinds else "pairwise")
    chosen_labels = [lb for lb in labels if lb.kind == chosen]
    if not chosen_labels:
        raise ConfigError(
            f"Run {run.id} has no {chosen} labels in the store. Label it in the viewer "
            f"(evalstack view, then Label), or pass a label file."
        )
    if chosen == "pairwise":
        return _pairwise(store, run, chosen_labels)
    return _ratings(store, run, chosen_labels)


def _ratings(store: Any, run: Any, labels: list[Any]) -> HumanLabels:
    if all(lb.ratings for lb in labels):
        scale = (1.0, 5.0)

        def score(lb: Any) -> float:
            return fmean(lb.ratings.values())
    elif all(lb.thumbs in (1, -1) for lb in labels):
        scale = (0.0, 1.0)

        def score(lb: Any) -> float:
            return 1.0 if lb.thumbs == 1 else 0.0
    else:
        raise ConfigError(
            f"Run {run.id}'s ratings mix labels with and without per-criterion scores and "
            f"thumbs, so no one human scale fits them all. Rate every sample the same way."
        )
    by_sample: dict[tuple[str, int], list[float]] = defaultdict(list)
    for lb in labels:
        by_sample[(lb.sample_id, lb.epoch)].append(score(lb))
    items = []
    for (sample_id, epoch), values in by_sample.items():
        sample = store.get_sample(run.id, sample_id, epoch)
        if sample is None:
            continue
        items.append(LabelItem(
            id=f"{sample_id}#{epoch}", input=sample.input_text(), answer=sample.output,
            human=fmean(values), reference=sample.target_text(), model=run.model,
            category=sample.category,
        ))
    humans = [i.human for i in items if i.human is not None]
    return HumanLabels("pointwise", tuple(items), scale, scale_levels(humans, scale),
                       f"labels of {run.id}")


def _pairwise(store: Any, run: Any, labels: list[Any]) -> HumanLabels:
    items = []
    for lb in labels:
        a = store.get_sample(run.id, lb.sample_id, lb.epoch)
        b = store.get_sample(lb.other_run_id, lb.sample_id, lb.epoch)
        if a is None or b is None:
            continue
        other = store.resolve_run(lb.other_run_id)
        items.append(LabelItem(
            id=f"{lb.sample_id}#{lb.epoch}#{lb.id}", input=a.input_text(), answer_a=a.output,
            answer_b=b.output, preference=lb.preference, reference=a.target_text(),
            model_a=run.model, model_b=other.model, category=a.category,
        ))
    return HumanLabels("pairwise", tuple(items), None, None, f"votes on {run.id}")
