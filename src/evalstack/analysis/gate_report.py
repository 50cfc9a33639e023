"""The gate's outputs for CI: JUnit XML (one test case per check) and a Markdown summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from evalstack.analysis.gate import Check, GateResult
from evalstack.analysis.text import fmt_delta, fmt_interval, fmt_p, fmt_value

_HEADLINE = {
    "pass": "PASS: the candidate is no worse than the baseline beyond the allowed drop",
    "fail": "FAIL: regression",
    "inconclusive": "INCONCLUSIVE: the eval is too small to rule out a drop of the margin",
}


def headline(result: GateResult) -> str:
    """One line: the decision and the failing or undecided checks."""
    failing = [c.name for c in result.checks if c.decision == result.decision]
    if result.decision == "pass":
        return _HEADLINE["pass"]
    return f"{_HEADLINE[result.decision]} ({', '.join(failing)})"


def junit_xml(result: GateResult) -> str:
    """JUnit XML: a ``testsuite`` with a ``testcase`` per check.

    A failed check is a ``<failure>``; an inconclusive one an ``<error type="inconclusive">``,
    because it also blocks the deploy but is not evidence of a regression.

    Examples:
        >>> from evalstack.analysis.compare import RunRef
        >>> r = GateResult(RunRef.of("baseline", None), RunRef.of("candidate", None), 0.05,
        ...                [], "pass")
        >>> junit_xml(r).splitlines()[1]
        '<testsuites name="evalstack gate" tests="0" failures="0" errors="0">'
    """
    fails = sum(c.decision == "fail" for c in result.checks)
    errors = sum(c.decision == "inconclusive" for c in result.checks)
    counts = {"tests": str(len(result.checks)), "failures": str(fails), "errors": str(errors)}
    root = ET.Element("testsuites", {"name": "evalstack gate", **counts})
    suite = ET.SubElement(root, "testsuite", {
        "name": f"gate {result.candidate.model or result.candidate.run_id} vs "
                f"{result.baseline.model or result.baseline.run_id}",
        **counts,
    })
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("baseline_run", result.baseline.run_id), ("candidate_run", result.candidate.run_id),
        ("task", result.candidate.task), ("alpha", str(result.alpha)),
        ("decision", result.decision),
    ):
        ET.SubElement(props, "property", {"name": key, "value": value})
    for check in result.checks:
        case = ET.SubElement(suite, "testcase", {
            "classname": f"evalstack.gate.{check.metric}",
            "name": check.category or "overall",
        })
        if check.decision == "fail":
            ET.SubElement(case, "failure", {"type": "regression", "message": check.reason}) \
                .text = _evidence(check)
        elif check.decision == "inconclusive":
            ET.SubElement(case, "error", {"type": "inconclusive", "message": check.reason}) \
                .text = _evidence(check)
        else:
            ET.SubElement(case, "system-out").text = _evidence(check)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _evidence(c: Check) -> str:
    return (
        f"{c.name}: baseline {fmt_value(c.baseline, True)}, candidate "
        f"{fmt_value(c.candidate, True)}, delta {fmt_delta(c.delta, True)} points "
        f"{fmt_interval(c.lower, c.upper, True)} (n={c.n}, {c.method}); allowed drop "
        f"{fmt_delta(c.max_drop, True, signed=False)} points; non-inferiority "
        f"{fmt_p(c.p_noninferior)}; worse than baseline {fmt_p(c.p_regression_adjusted)} (Holm). "
        f"{c.reason}"
    )


def markdown_summary(result: GateResult) -> str:
    """A Markdown summary for CI step summaries (e.g. ``$GITHUB_STEP_SUMMARY``)."""
    level = 100 * (1 - 2 * result.alpha)
    lines = [
        f"## evalstack gate: {result.decision.upper()}",
        "",
        headline(result) + ".",
        "",
        f"- Baseline: `{result.baseline.run_id}` ({_md(result.baseline.model)}, "
        f"{_md(result.baseline.task)})",
        f"- Candidate: `{result.candidate.run_id}` ({_md(result.candidate.model)}, "
        f"{_md(result.candidate.task)})",
        f"- Non-inferiority at alpha={result.alpha}; deltas in points with {level:g}% intervals",
        "",
        "| check | decision | baseline | candidate | delta [CI] | allowed drop | n | "
        "p (no worse) | p (worse, Holm) |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for c in result.checks:
        lines.append(
            f"| {_md(c.name)} | **{c.decision}** | {fmt_value(c.baseline, True)} | "
            f"{fmt_value(c.candidate, True)} | {fmt_delta(c.delta, True)} "
            f"{fmt_interval(c.lower, c.upper, True)} | "
            f"{fmt_delta(c.max_drop, True, signed=False)} | {c.n} | "
            f"{fmt_p(c.p_noninferior).removeprefix('p=')} | "
            f"{fmt_p(c.p_regression_adjusted).removeprefix('p=')} |"
        )
    lines.append("")
    for c in result.checks:
        if c.decision != "pass":
            lines.append(f"- **{_md(c.name)}**: {_md(c.reason)}")
    for note in result.mismatches + result.notes:
        lines.append(f"- {_md(note)}")
    return "\n".join(lines).rstrip() + "\n"


def _md(text: str) -> str:
    """Escape what would break a Markdown table or inject markup."""
    return (
        text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
        .replace("\n", " ")
    )
