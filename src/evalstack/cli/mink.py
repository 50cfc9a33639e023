"""``evalstack mink``: Min-K% Prob and Min-K%++ membership scores of texts under a local model."""

from __future__ import annotations

import json
import math
from typing import Any

import click

from evalstack.cli.options import FiniteFloat, IntAtLeast


@click.command("mink")
@click.argument("task", required=False)
@click.option("--model", "model_spec", required=True, metavar="PROVIDER/MODEL",
              help="A model that offers token log-probabilities: local/smollm2, "
                   "llamacpp/PATH.gguf or transformers/NAME.")
@click.option("--k", type=FiniteFloat(0, 1, low_open=True, what="a fraction of tokens",
                                      example="0.2"),
              default=0.2, show_default=True, help="The fraction of lowest tokens kept.")
@click.option("--members", type=click.Path(dir_okay=False), default=None,
              help="A .jsonl/.csv file of texts known to be in the training data.")
@click.option("--nonmembers", type=click.Path(dir_okay=False), default=None,
              help="A .jsonl/.csv file of texts known not to be.")
@click.option("--limit", type=IntAtLeast(1), default=None,
              help="Score at most this many texts of TASK (and of each labelled file).")
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
              help="A model argument (n_ctx=4096); repeatable.")
@click.option("--input-field", default="input", show_default=True,
              help="The field holding each text in a .jsonl/.csv file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def mink_command(task: str | None, model_spec: str, k: float, members: str | None,
                 nonmembers: str | None, limit: int | None, model_args: tuple[str, ...],
                 input_field: str, as_json: bool) -> None:
    """Min-K% Prob and Min-K%++ scores of each text: higher means more likely seen in training.

    TASK is a registered task or a .jsonl/.csv file (its 'input' field is scored). With
    --members and --nonmembers (texts known to be in and out of the model's training data)
    each score's ROC AUC is given with its DeLong 95% interval and the n of each group.
    Only local models that expose their next-token distribution can be scored.

    \b
    Examples:
      evalstack mink data.jsonl --model local/smollm2
      evalstack mink --members seen.jsonl --nonmembers fresh.jsonl --model local/smollm2
    """
    import asyncio

    from evalstack.analysis.mink import check_model
    from evalstack.core.errors import ConfigError
    from evalstack.model import Model, resolve_model
    from evalstack.runner.specs import parse_kv

    if task is None and members is None and nonmembers is None:
        raise ConfigError("Expected TASK (a task or a .jsonl/.csv file) or --members and "
                          "--nonmembers; received neither. E.g. evalstack mink data.jsonl "
                          "--model local/smollm2.")
    if (members is None) != (nonmembers is None):
        raise ConfigError("Expected both --members and --nonmembers (an AUC needs both "
                          "groups); received only one. Give the other too.")
    provider = resolve_model(model_spec, parse_kv(model_args, "--model-arg"))
    model = Model(provider)
    check_model(model)  # refuse before reading anything or loading weights
    texts = _texts(task, members, nonmembers, limit, input_field)
    report = asyncio.run(_score(model, texts, k))
    if as_json:
        click.echo(json.dumps(report.to_dict()))
        return
    _print(report)


def _texts(task: str | None, members: str | None, nonmembers: str | None,
           limit: int | None, input_field: str) -> list[Any]:
    from evalstack.analysis.mink import Text
    from evalstack.core.errors import ConfigError
    from evalstack.datasets.files import load_dataset
    from evalstack.datasets.record import FieldMap
    from evalstack.runner.resolve import resolve_task

    fields = FieldMap(input=input_field, require_target=False)
    texts: list[Text] = []
    if task is not None:
        tasks = resolve_task(task, fields=fields)
        if len(tasks) != 1:
            raise ConfigError(f"mink scores one task; {task!r} holds {len(tasks)}. Pick one, "
                              f"e.g. {task}@{tasks[0].name}.")
        texts += [Text(s.id, _text(s.input)) for s in _first(tasks[0].dataset, limit)]
    for path, label in ((members, True), (nonmembers, False)):
        if path is not None:
            texts += [Text(s.id, _text(s.input), label)
                      for s in _first(load_dataset(path, fields=fields), limit)]
    return texts


def _first(dataset: Any, limit: int | None) -> list[Any]:
    samples = list(dataset)
    return samples if limit is None else samples[:limit]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "\n".join(m.content for m in value)


async def _score(model: Any, texts: list[Any], k: float) -> Any:
    from evalstack.analysis.mink import score_texts

    try:
        return await score_texts(model, texts, k=k)
    finally:
        await model.aclose()


def _print(report: Any) -> None:
    from rich.table import Table

    from evalstack.analysis.mink import SCORES
    from evalstack.cli.render import make_console

    console = make_console()
    table = Table(title=f"Min-K% scores under {report.model} (k={report.k:g}; higher: more "
                        f"likely seen in training)")
    for name in ("id", "member", "tokens", "min_k_prob", "min_k++"):
        table.add_column(name, justify="left" if name in ("id", "member") else "right")
    for item in report.items:
        member = "" if item.member is None else ("yes" if item.member else "no")
        table.add_row(str(item.id), member, str(item.n_tokens), _fmt(item.min_k_prob),
                      _fmt(item.min_k_plus_plus))
    console.print(table)
    if report.auc is None:
        console.print("No AUC: give --members and --nonmembers to measure how well the scores "
                      "separate the two.")
        return
    for name, r in report.auc.items():
        console.print(
            f"{SCORES[name]}: AUC {_fmt(r.estimate, 3)} [{_fmt(r.ci_low, 3)}, "
            f"{_fmt(r.ci_high, 3)}] 95% CI ({r.method}), n={r.n}: {report.n_members} members, "
            f"{report.n_nonmembers} non-members", markup=False)


def _fmt(x: float, digits: int = 4) -> str:
    return "n/a" if math.isnan(x) else f"{x:.{digits}f}"
