"""``evalstack overlap``: n-gram overlap between a task's items and a corpus you supply."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import click

from evalstack.cli.options import IntAtLeast


@click.command("overlap")
@click.argument("task")
@click.option("--corpus", "corpus", multiple=True, required=True, metavar="PATH",
              help="A corpus file or directory (searched recursively) of .txt, .jsonl, .txt.gz "
                   "or .jsonl.gz files; repeatable.")
@click.option("-T", "--task-arg", "task_args", multiple=True, metavar="KEY=VALUE",
              help="Argument for the task, e.g. -T subject=anatomy.")
@click.option("--limit", type=IntAtLeast(1), default=None,
              help="Check at most this many items of TASK.")
@click.option("--n", "n", type=IntAtLeast(1), default=13, show_default=True,
              help="The n-gram size (13 as in GPT-3 and lm-evaluation-harness).")
@click.option("--text-field", default="text", show_default=True,
              help="The field holding the text in .jsonl corpus files.")
@click.option("--input-field", default="input", show_default=True,
              help="Field holding the input, for a bare JSONL/CSV task.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def overlap_command(task: str, corpus: tuple[str, ...], task_args: tuple[str, ...],
                    limit: int | None, n: int, text_field: str, input_field: str,
                    as_json: bool, no_progress: bool) -> None:
    """Which items of TASK appear in your corpus: shared n-grams, per item and overall.

    Text is normalised as lm-evaluation-harness's decontamination does (lowercase, no
    punctuation, whitespace tokens); an item is contaminated when one of its n-grams occurs in
    the corpus. The corpus is streamed in chunks, so its size does not change memory use.

    \b
    Examples:
      evalstack overlap mmlu --corpus crawl/ --limit 1000
      evalstack overlap cases.jsonl --corpus dump.jsonl.gz --text-field content --json
    """
    from evalstack.analysis.ngrams import check_overlap, corpus_files
    from evalstack.core.errors import ConfigError
    from evalstack.datasets.record import FieldMap
    from evalstack.runner.resolve import parse_kv, resolve_task

    files = corpus_files(corpus)  # every path checked before the task is even loaded
    tasks = resolve_task(task, fields=FieldMap(input=input_field, require_target=False),
                         task_args=parse_kv(task_args, "--task-arg"))
    if len(tasks) != 1:
        raise ConfigError(f"overlap checks one task; {task!r} holds {len(tasks)}. Pick one, "
                          f"e.g. {task}@{tasks[0].name}.")
    samples = list(tasks[0].dataset)
    if limit is not None:
        samples = samples[:limit]
    total = sum(f.size for f in files)
    show = not no_progress and sys.stderr.isatty()
    if show:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        with Progress(TextColumn("corpus"), BarColumn(), DownloadColumn(),
                      TransferSpeedColumn(), TimeRemainingColumn(),
                      console=Console(stderr=True)) as bar:
            tid = bar.add_task("corpus", total=total)
            report = check_overlap(samples, files, n=n, text_field=text_field,
                                   progress=lambda k: bar.advance(tid, k))
    else:
        report = check_overlap(samples, files, n=n, text_field=text_field)
    if as_json:
        click.echo(json.dumps({"task": tasks[0].name, **report.to_dict()}))
        return
    _print(tasks[0].name, report)


def _print(task: str, report: Any) -> None:
    from rich.table import Table

    from evalstack.cli.render import make_console

    console = make_console()
    bad = report.contaminated
    if bad:
        table = Table(title=f"{task}: items sharing {report.n}-grams with the corpus")
        for name in ("id", f"{report.n}-grams", "found", "fraction", "first file", "offset"):
            table.add_column(name, justify="left" if name in ("id", "first file") else "right")
        for it in bad:
            table.add_row(it.id, str(it.n_ngrams), str(it.found), f"{it.fraction:.3f}",
                          it.first_file or "", str(it.first_offset))
        console.print(table)
    r = report.rate
    shown = ("n/a" if math.isnan(r.estimate)
             else f"{r.estimate:.1%} [{r.ci_low:.1%}, {r.ci_high:.1%}] 95% CI (Wilson)")
    console.print(f"Contaminated: {len(bad)} of {r.n} items, {shown}, n={r.n}; "
                  f"{report.corpus_files} corpus files, {report.corpus_bytes:,} bytes.",
                  markup=False, highlight=False, soft_wrap=True)
    if report.unchecked:
        console.print(f"{report.unchecked} items shorter than {report.n} tokens were not "
                      f"checked (not in n).", markup=False, highlight=False)
