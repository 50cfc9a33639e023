"""A single self-contained HTML report of one or more runs and load tests.

No network, no scripts: inline CSS, interval bars drawn with plain elements, and a load
test's charts as inline SVG (``web.charts``). Every piece of model output, dataset text and
run metadata is escaped, so a hostile output renders as text.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from evalstack.core.costs import summary_cost_text
from evalstack.core.records import RunRecord, SampleRecord

MAX_SAMPLES_PER_RUN = 200

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2430;
padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2.5rem;border-bottom:1px solid #dde}
table{border-collapse:collapse;margin:.5rem 0;width:100%}
th,td{border-bottom:1px solid #eef;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f6fa}.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{position:relative;height:12px;width:220px;background:#eef1f6;border-radius:2px}
.ci{position:absolute;top:3px;height:6px;background:#9db4e0}
.pt{position:absolute;top:0;width:2px;height:12px;background:#1f4aa8}
pre{white-space:pre-wrap;word-break:break-word;margin:0;max-height:12rem;overflow:auto;
font:12px/1.4 ui-monospace,monospace}
.err{color:#a11}.ok{color:#175}.muted{color:#667}details{margin:.25rem 0}
.charts{display:flex;flex-wrap:wrap;gap:1rem;margin:.5rem 0}.load td{white-space:nowrap}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _bar(estimate: float | None, low: float | None, high: float | None) -> str:
    if estimate is None or low is None or high is None:
        return ""
    lo, hi, pt = (max(0.0, min(1.0, v)) * 100 for v in (low, high, estimate))
    return (f'<div class="bar"><div class="ci" style="left:{lo:.2f}%;width:{hi - lo:.2f}%">'
            f'</div><div class="pt" style="left:{pt:.2f}%"></div></div>')


def _metric_rows(metrics: dict[str, Any]) -> str:
    rows = []
    for name, m in metrics.items():
        est = m.get("estimate")
        text = "n/a" if est is None else f"{est:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"
        rows.append(f"<tr><td>{_e(name)}</td><td class=num>{_e(text)}</td>"
                    f"<td class=num>{_e(m.get('n'))}</td><td>{_e(m.get('method'))}</td>"
                    f"<td>{_bar(est, m.get('ci_low'), m.get('ci_high'))}</td></tr>")
    return "".join(rows)


def _sample_rows(samples: Sequence[SampleRecord]) -> str:
    rows = []
    for s in samples:
        scores = ", ".join(f"{k}={v.get('value')}" for k, v in s.scores.items())
        status = (f'<span class="err">{_e(s.error)}</span>' if s.error
                  else f'<span class="ok">{_e(scores)}</span>')
        inp = s.input if isinstance(s.input, str) else json.dumps(s.input, ensure_ascii=False)
        target = s.target if isinstance(s.target, str) else " | ".join(s.target)
        trunc = " <span class=muted>(truncated)</span>" if s.output_truncated else ""
        rows.append(
            f"<tr><td>{_e(s.sample_id)}#{s.epoch}</td><td><pre>{_e(inp)}</pre></td>"
            f"<td><pre>{_e(target)}</pre></td><td><pre>{_e(s.output)}</pre>{trunc}</td>"
            f"<td>{status}</td></tr>"
        )
    return "".join(rows)


def _run_section(run: RunRecord, samples: Sequence[SampleRecord], stored: int) -> str:
    summary = run.summary or {}
    parts = [f"<h2>{_e(run.task_name)} v{_e(run.task_version)} · {_e(run.model)}</h2>",
             f"<p class=muted>run {_e(run.id)} · {_e(run.status)} · "
             f"{_e(run.created_at.strftime('%Y-%m-%d %H:%M UTC'))} · "
             f"dataset {_e(run.dataset_name)} "
             f"({_e(run.dataset_hash[:12])}) · evalstack {_e(run.package_version)}"
             f"{' · git ' + _e(run.git_revision[:12]) if run.git_revision else ''}</p>"]
    if summary:
        lat = summary.get("latency_ms", {})
        parts.append(
            "<table><tr><th>metric</th><th class=num>estimate [95% CI]</th><th class=num>n</th>"
            f"<th>interval</th><th></th></tr>{_metric_rows(summary.get('metrics', {}))}</table>"
            f"<p>{_e(summary.get('samples'))} samples, {_e(summary.get('errors'))} errors, "
            f"{_e(summary_cost_text(summary))}, latency p50 {_ms(lat.get('p50'))}, "
            f"p95 {_ms(lat.get('p95'))}</p>"
        )
        cats = summary.get("categories", {})
        if cats:
            parts.append("<details open><summary>By category</summary><table><tr><th>category"
                         "</th><th>metric</th><th class=num>estimate [95% CI]</th><th class=num>n"
                         "</th><th>interval</th><th></th></tr>")
            for cat, metrics in cats.items():
                for row in _metric_rows(metrics).split("</tr>")[:-1]:
                    parts.append(row.replace("<tr>", f"<tr><td>{_e(cat)}</td>", 1) + "</tr>")
            parts.append("</table></details>")
    shown = len(samples)
    more = f" (first {shown} of {stored})" if stored > shown else ""
    parts.append(f"<details><summary>Samples{more}</summary><table><tr><th>id</th><th>input</th>"
                 f"<th>target</th><th>output</th><th>scores</th></tr>{_sample_rows(samples)}"
                 f"</table></details>")
    return "".join(parts)


def _load_section(test: Any) -> str:
    """One stored load test (``store.loadtests.LoadTestRecord``): its charts, the per-level
    table and the knee with the reasons the other levels were excluded."""
    from evalstack.runner.load import LEVEL_COLUMNS, level_cells, verdict_lines
    from evalstack.web.charts import load_charts

    charts = load_charts(test.levels, test.knee, metric=test.metric)
    s = test.settings
    slo = s.get("slo_ms")
    meta = [f"load test {_e(test.id)}",
            _e(test.created_at.strftime("%Y-%m-%d %H:%M UTC")),
            f"metric {_e(test.metric)}", f"SLO p95 {_e(f'{slo:g} ms' if slo else 'none')}",
            f"alpha {_e(s.get('alpha'))}", f"evalstack {_e(test.package_version)}"]
    if test.git_revision:
        meta.append(f"git {_e(test.git_revision[:12])}")
    head = "".join(f"<th{' class=num' if i else ''}>{_e(c)}</th>"
                   for i, c in enumerate(LEVEL_COLUMNS))
    rows = "".join(
        "<tr>" + "".join(f"<td class=num>{_e(c)}</td>" for c in level_cells(lv)) + "</tr>"
        for lv in test.levels)
    verdict = verdict_lines(test.as_report())
    knee = f"<p><b>{_e(verdict[0])}</b></p>" if verdict else ""
    notes = "".join(f"<li>{_e(line.removeprefix('- '))}</li>" for line in verdict[1:])
    return (f"<h2>load: {_e(test.task_name)} · {_e(test.model)}</h2>"
            f"<p class=muted>{' · '.join(meta)}</p>"
            f'<div class="charts">{charts["latency"]}{charts["throughput"]}'
            f'{charts["quality"]}</div>{knee}'
            f"<table class=load><tr>{head}</tr>{rows}</table><ul class=muted>{notes}</ul>")


def render_report(runs: Sequence[tuple[RunRecord, Sequence[SampleRecord], int]],
                  load_tests: Sequence[Any] = ()) -> str:
    """The report's HTML for (run, samples to show, samples stored) triples and stored load
    tests (``store.loadtests.LoadTestRecord``)."""
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "".join(_run_section(r, s, n) for r, s, n in runs)
    body += "".join(_load_section(t) for t in load_tests)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">"
        f"<title>evalstack report</title><style>{_CSS}</style></head><body>"
        f"<h1>evalstack report</h1><p class=muted>made {made}; every estimate has its 95% "
        f"interval and n</p>{body}</body></html>"
    )


def write_report(store: Any, run_ids: Sequence[str], path: str | Path,
                 load_ids: Sequence[str] = ()) -> Path:
    """Write the report of ``run_ids`` and the load tests ``load_ids`` (ids or unique
    prefixes) from ``store`` to ``path``."""
    from evalstack.store.loadtests import get_load_test

    tests = [get_load_test(store, ref) for ref in load_ids]
    runs = []
    for run_id in run_ids:
        run = store.get_run(run_id)
        samples = list(islice(store.iter_samples(run.id), MAX_SAMPLES_PER_RUN))
        total, _ = store.count_samples(run.id)
        runs.append((run, samples, total))
    out = Path(path)
    out.write_text(render_report(runs, tests), encoding="utf-8")
    return out
