"""HellaSwag (Zellers et al., 2019): pick the most plausible ending; 10,042 validation items.

Matches lm-evaluation-harness's ``hellaswag`` task, zero-shot: the prompt is the query
``"{activity_label}: {ctx_a} {ctx_b.capitalize()}"`` after lm-evaluation-harness's
``preprocess`` (`` [title]`` becomes ``". "``, any other ``[...]`` is removed, double spaces
become single), and each preprocessed ending is scored as the continuation `` {ending}``,
reported as ``acc`` and ``acc_norm`` (per character of the ending). Generation
(``method=generate``) lists the lettered endings and asks for the letter, scored by ``acc`` and
``acc_strict`` (see ``evalstack.benchmarks._mc``). The category is the activity label
(``Roof shingle removal``, ``Personal Care and Style``, ...).

Data: the offline mirror holds the validation set in llama.cpp's text form
(``hellaswag/hellaswag_val_full.txt.bz2``: six lines per item, ``"<activity_label>: <ctx>"``,
the gold label 0-3, then the four endings), else the Hugging Face dataset ``Rowan/hellaswag``
(split ``validation``), whose rows (``activity_label``, ``ctx_a``, ``ctx_b``, ``endings``,
``label``) give lm-evaluation-harness's prompt exactly. The text form lost the ``ctx_a`` /
``ctx_b`` split, and its extractor already removed ``[header]``, ``[step]``, ``[substeps]``
and ``[title]`` markers (turning `` [title]`` into ``". "`` as lm-evaluation-harness does).
From it, the prompt is rebuilt as closely as it allows:

- ``ctx_b.capitalize()``: when the context ends in a fragment that starts lowercase after a
  sentence end (``"... on a roof. he"``), that fragment is taken to be ``ctx_b`` and
  capitalised (``"... on a roof. He"``), exactly as upstream for such items (most ActivityNet
  items, about a third of the set). A ``ctx_b`` that starts uppercase is left as is, so any
  later uppercase letters it has, which ``capitalize()`` would lowercase, stay uppercase.
- The remaining brackets (18 lines, such as ``[www.kiddio.org]``) are removed as upstream.

Licence: MIT (rowanz/hellaswag).
"""

from __future__ import annotations

import bz2
import re
from pathlib import Path

from evalstack.benchmarks._mc import field, fingerprint, mc_scorers, mc_task, row_error
from evalstack.core.task import Task, task
from evalstack.core.types import Sample
from evalstack.datasets.sources import DataSource, locate, read_records
from evalstack.solvers.multiple_choice import multiple_choice

TEMPLATE = "{input}"
GENERATE_TEMPLATE = (
    "Which ending is the most plausible continuation of the text?\n\n{input} ...\n{choices}\n"
    "Answer:"
)

VALIDATION = DataSource(
    name="hellaswag",
    mirror="hellaswag/hellaswag_val_full.txt.bz2",
    hub="Rowan/hellaswag",
    hub_split="validation",
    licence="MIT",
)

_BRACKETS = re.compile(r"\[.*?\]")
# The last sentence end of the context, before a fragment that has none.
_LAST_FRAGMENT = re.compile(r"[.!?][\"')]*\s+(?=[^.!?]*$)")


def preprocess(text: str) -> str:
    """lm-evaluation-harness's HellaSwag ``preprocess``.

    Examples:
        >>> preprocess("Food: [header] How to cook [title] Boil water. [step] Wait.")
        'Food: How to cook. Boil water. Wait.'
    """
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = _BRACKETS.sub("", text)
    return text.replace("  ", " ")


def query_from_hub(activity_label: str, ctx_a: str, ctx_b: str) -> str:
    """The query exactly as lm-evaluation-harness builds it."""
    return preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize())


def query_from_text(line: str) -> str:
    """The query rebuilt from the text form's first line (see the module docstring).

    Examples:
        >>> query_from_text("Roof shingle removal: A man is sitting on a roof. he")
        'Roof shingle removal: A man is sitting on a roof. He'
    """
    label, sep, ctx = line.partition(": ")
    match = _LAST_FRAGMENT.search(ctx)
    if sep and match is not None and ctx[match.end() : match.end() + 1].islower():
        ctx = ctx[: match.end()] + ctx[match.end() :].capitalize()
    return preprocess(label + sep + ctx)


def _sample(index: int, query: str, label: str, endings: list[str], gold: int) -> Sample:
    return Sample(
        id=f"hellaswag-{index:05d}",
        input=query,
        target="ABCD"[gold],
        choices=tuple(preprocess(e) for e in endings),
        metadata={"category": label},
    )


def _from_text(path: Path) -> list[Sample]:
    with bz2.open(path, "rt", encoding="utf-8") if path.suffix == ".bz2" else open(
        path, encoding="utf-8"
    ) as fh:
        lines = fh.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) % 6:
        raise row_error(path, len(lines) // 6 + 1, f"the text form has 6 lines per item, but "
                        f"the file has {len(lines)} lines")
    samples = []
    for i in range(0, len(lines), 6):
        head, gold, endings = lines[i], lines[i + 1].strip(), lines[i + 2 : i + 6]
        if gold not in ("0", "1", "2", "3"):
            raise row_error(path, i // 6 + 1, f"line {i + 2} should be the gold label 0-3; got "
                            f"{gold!r}")
        label = head.partition(": ")[0].strip()
        samples.append(_sample(i // 6, query_from_text(head), label, endings, int(gold)))
    return samples


def _from_rows(path: Path) -> list[Sample]:
    samples = []
    for i, row in enumerate(read_records(path, VALIDATION)):
        values = {name: field(row, name, path, i + 1)
                  for name in ("activity_label", "ctx_a", "ctx_b", "endings", "label")}
        endings = [str(e) for e in values["endings"]]  # type: ignore[attr-defined]
        gold = str(values["label"]).strip()
        if len(endings) != 4 or gold not in ("0", "1", "2", "3"):
            raise row_error(path, i + 1, f"expected 4 endings and a label 0-3; got "
                            f"{len(endings)} endings and label {gold!r}")
        label = str(values["activity_label"])
        query = query_from_hub(label, str(values["ctx_a"]), str(values["ctx_b"]))
        samples.append(_sample(i, query, preprocess(label), endings, int(gold)))
    return samples


def load() -> tuple[list[Sample], Path]:
    """The HellaSwag validation samples and the file they came from."""
    path = locate(VALIDATION)
    name = path.name.removesuffix(".bz2")
    samples = _from_text(path) if name.endswith(".txt") else _from_rows(path)
    return samples, path


@task(version=1)
def hellaswag(method: str = "auto") -> Task:
    """HellaSwag validation, lm-evaluation-harness's ``hellaswag``; see the module docstring.

    Args:
        method: ``auto``, ``loglikelihood`` or ``generate``.
    """
    samples, path = load()
    solver = multiple_choice(
        template=TEMPLATE, method=method, continuation="text",  # type: ignore[arg-type]
        generate_template=GENERATE_TEMPLATE,
    )
    return mc_task("hellaswag", samples, fingerprint(path), solver, mc_scorers(norm=True),
                   description="HellaSwag validation, lm-evaluation-harness format")
