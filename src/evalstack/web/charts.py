"""Charts as inline SVG text, for the viewer's pages and the self-contained report.

No script, no style sheet and no network: every colour and dash is an SVG presentation
attribute (the viewer's Content-Security-Policy forbids inline ``style``), and every piece of
text (titles, series names, notes) is escaped here, so a hostile name renders as text.

``line_chart`` draws one or more series of points with their intervals (whiskers) against a
linear or log2 x axis, with an optional vertical marker; ``load_charts`` draws a load test's
latency, throughput and quality against concurrency.

Examples:
    >>> svg = line_chart([Series("p50", [Point(1, 10.0), Point(2, 12.0)])], title="a<b")
    >>> svg.startswith("<svg") and "a&lt;b" in svg and svg.count('class="pt"')
    2
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

WIDTH, HEIGHT = 520, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 16, 30, 44
# colour and dash per series, told apart without colour too
_STYLES = (("#1f4aa8", ""), ("#c06a00", "6 3"), ("#a1192b", "2 3"), ("#177a4a", "8 3 2 3"))
_MARKER = "#5b2a86"


@dataclass(frozen=True, slots=True)
class Point:
    """One point: ``y`` with its interval; ``over`` marks a value above any finite one (a
    latency at the timeout), drawn at the top edge as an open marker."""

    x: float
    y: float | None
    low: float | None = None
    high: float | None = None
    over: bool = False
    high_over: bool = False
    note: str = ""


@dataclass(frozen=True, slots=True)
class Series:
    """A named line of points."""

    name: str
    points: Sequence[Point] = field(default_factory=tuple)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: float) -> str:
    """A tick or tooltip number: short, without a trailing ``.0``."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]`` (steps of 1, 2, 2.5 or 5 times 10^k).

    Examples:
        >>> nice_ticks(0, 97)
        [0.0, 25.0, 50.0, 75.0, 100.0]
    """
    if not high > low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = [round(start, 10)]
    while ticks[-1] < high - step * 1e-9 and len(ticks) < 50:
        ticks.append(round(start + len(ticks) * step, 10))
    return ticks


def _y_domain(series: Sequence[Series], y_range: tuple[float, float] | None,
              zero: bool) -> tuple[list[float], float, float]:
    if y_range is not None:
        ticks = nice_ticks(*y_range)
        return ticks, y_range[0], y_range[1]
    values = [v for s in series for p in s.points if not p.over
              for v in (p.y, p.low, None if p.high_over else p.high)
              if v is not None and math.isfinite(v)]
    if not values:
        values = [0.0, 1.0]
    low, high = min(values), max(values)
    if zero:
        low = min(low, 0.0)
    if high == low:
        high = low + (abs(low) or 1.0)
    ticks = nice_ticks(low, high)
    return ticks, ticks[0], ticks[-1]


def line_chart(series: Sequence[Series], *, title: str, x_label: str = "",
               y_label: str = "", log2_x: bool = False, marker: float | None = None,
               marker_label: str = "", y_range: tuple[float, float] | None = None,
               zero: bool = True, css_class: str = "chart", width: int = WIDTH,
               height: int = HEIGHT) -> str:
    """An SVG line chart of ``series``, every text escaped.

    Args:
        series: the lines; each point is a ``<circle class="pt">`` with ``data-x`` and a
            ``<title>`` tooltip, its interval a ``<line class="ci">``.
        title / x_label / y_label: the chart's texts.
        log2_x: place x on a log2 scale (ticks at the points' x values).
        marker: an x value to mark with a vertical line (``class="marker"``) and
            ``marker_label``.
        y_range: a fixed y domain (else from the data; from 0 when ``zero``).
        css_class: the ``class`` of the ``<svg>``.
    """
    xs = sorted({p.x for s in series for p in s.points})

    def tx(v: float) -> float:
        return math.log2(v) if log2_x else float(v)

    if log2_x:
        xs = [x for x in xs if x > 0]
    if xs:
        x0, x1 = tx(xs[0]), tx(xs[-1])
    else:
        x0, x1 = 0.0, 1.0
    pad = (x1 - x0) * 0.04 if x1 > x0 else 1.0
    x0, x1 = x0 - pad, x1 + pad
    ticks, y0, y1 = _y_domain(series, y_range, zero)
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM

    def px(v: float) -> float:
        return _LEFT + (tx(v) - x0) / (x1 - x0) * plot_w

    def py(v: float) -> float:
        clamped = max(y0, min(y1, v))
        return _TOP + plot_h - (clamped - y0) / (y1 - y0) * plot_h

    top, bottom = float(_TOP), float(_TOP + plot_h)
    out = [f'<svg class="{_e(css_class)}" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}" '
           'font-family="system-ui, sans-serif" font-size="11">',
           f"<title>{_e(title)}</title>",
           f'<text class="title" x="{_LEFT}" y="16" font-size="13" font-weight="600" '
           f'fill="#1d2430">{_e(title)}</text>',
           f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="#fbfcfe" '
           'stroke="#dde"/>']
    for t in ticks:
        y = py(t)
        out.append(f'<line class="grid" x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{y:.1f}" '
                   f'y2="{y:.1f}" stroke="#eef"/>'
                   f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                   f'fill="#556">{_e(_fmt(t))}</text>')
    for x in xs:
        X = px(x)
        out.append(f'<line x1="{X:.1f}" x2="{X:.1f}" y1="{bottom}" y2="{bottom + 4}" '
                   f'stroke="#889"/><text x="{X:.1f}" y="{bottom + 16}" text-anchor="middle" '
                   f'fill="#556">{_e(_fmt(x))}</text>')
    if x_label:
        out.append(f'<text x="{_LEFT + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                   f'fill="#334">{_e(x_label)}</text>')
    if y_label:
        out.append(f'<text x="12" y="{_TOP + plot_h / 2:.1f}" text-anchor="middle" '
                   f'fill="#334" transform="rotate(-90 12 {_TOP + plot_h / 2:.1f})">'
                   f"{_e(y_label)}</text>")
    if marker is not None and (not log2_x or marker > 0):
        X = px(marker)
        out.append(f'<g class="marker" data-x="{_e(_fmt(marker))}"><line x1="{X:.1f}" '
                   f'x2="{X:.1f}" y1="{top}" y2="{bottom}" stroke="{_MARKER}" '
                   f'stroke-width="1.5" stroke-dasharray="4 3"/><text x="{X + 4:.1f}" '
                   f'y="{top + 12}" fill="{_MARKER}" font-weight="600">'
                   f"{_e(marker_label)}</text></g>")
    for i, s in enumerate(series):
        colour, dash = _STYLES[i % len(_STYLES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        drawn = [p for p in s.points if (p.y is not None or p.over)
                 and (not log2_x or p.x > 0)]
        out.append(f'<g class="series" data-series="{_e(s.name)}">')
        coords = [(px(p.x), top if p.over else py(p.y or 0.0)) for p in drawn]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                       f'stroke-width="1.5"{dash_attr}/>')
        for p, (X, Y) in zip(drawn, coords, strict=True):
            if p.low is not None and (p.high is not None or p.high_over):
                lo = py(p.low)
                hi = top if p.high_over or p.high is None else py(p.high)
                out.append(f'<line class="ci" x1="{X:.1f}" x2="{X:.1f}" y1="{lo:.1f}" '
                           f'y2="{hi:.1f}" stroke="{colour}" stroke-opacity="0.55" '
                           'stroke-width="3"/>')
            fill = "#fff" if p.over else colour
            tip = f"{s.name} at {_fmt(p.x)}: " + (p.note or (
                "above the chart" if p.over else _fmt(p.y or 0.0)))
            if p.low is not None and not p.note:
                high = "timeout" if p.high_over else _fmt(p.high or 0.0)
                tip += f" [{_fmt(p.low)}, {high}]"
            out.append(f'<circle class="pt" data-x="{_e(_fmt(p.x))}" cx="{X:.1f}" '
                       f'cy="{Y:.1f}" r="3.5" fill="{fill}" stroke="{colour}" '
                       f'stroke-width="1.5"><title>{_e(tip)}</title></circle>')
        out.append("</g>")
    if len(series) > 1:
        lx = _LEFT + plot_w
        for i, s in enumerate(reversed(series)):
            colour, dash = _STYLES[(len(series) - 1 - i) % len(_STYLES)]
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            text_w = 7 * len(s.name) + 6
            lx -= text_w + 22
            out.append(f'<g class="legend"><line x1="{lx:.0f}" x2="{lx + 18:.0f}" y1="12" '
                       f'y2="12" stroke="{colour}" stroke-width="2"{dash_attr}/>'
                       f'<text x="{lx + 21:.0f}" y="16" fill="#334">{_e(s.name)}</text></g>')
    out.append("</svg>")
    return "".join(out)


# -- a load test ----------------------------------------------------------------------------


def _stat_point(level: float, stat: Mapping[str, Any] | None) -> Point:
    """A point from a stored ``stat_json`` object (``None`` estimates stay undrawn)."""
    if not stat:
        return Point(level, None)
    timed = stat.get("at_timeout") or {}
    over = bool(timed.get("estimate"))
    return Point(level, stat.get("estimate"), stat.get("ci_low"), stat.get("ci_high"),
                 over=over, high_over=bool(timed.get("ci_high")),
                 note="at the timeout" if over else "")


def load_charts(levels: Sequence[Mapping[str, Any]], knee: int | None, *,
                metric: str = "quality", title: str = "") -> dict[str, str]:
    """The three charts of a load test, from its stored levels (``runner.load.level_json``):
    latency p50/p95/p99, throughput and quality (mean with its interval) against
    concurrency on a log2 axis, each with the knee marked.

    Returns:
        ``{"latency": svg, "throughput": svg, "quality": svg}``.
    """
    x = [float(lv["level"]) for lv in levels]
    latency = [Series(q, [_stat_point(v, (lv.get("latency_ms") or {}).get(q))
                          for v, lv in zip(x, levels, strict=True)])
               for q in ("p50", "p95", "p99")]
    tput = [Series("ok/s", [_stat_point(v, lv.get("throughput"))
                            for v, lv in zip(x, levels, strict=True)])]
    quality = [Series(metric, [_stat_point(v, lv.get("quality"))
                               for v, lv in zip(x, levels, strict=True)])]
    values = [p for p in quality[0].points if p.y is not None]
    unit = all(0.0 <= b <= 1.0 for p in values for b in (p.y, p.low, p.high) if b is not None)
    mark = {"marker": knee, "marker_label": "no knee" if knee is None else f"knee {knee}"}
    if knee is None:
        mark["marker"] = None
    prefix = f"{title}: " if title else ""
    common: dict[str, Any] = {"x_label": "concurrency (requests in flight, log2)",
                              "log2_x": True, **mark}
    return {
        "latency": line_chart(latency, title=f"{prefix}latency p50/p95/p99",
                              y_label="ms", css_class="chart latency", **common),
        "throughput": line_chart(tput, title=f"{prefix}throughput",
                                 y_label="answered samples/s", css_class="chart throughput",
                                 **common),
        "quality": line_chart(quality, title=f"{prefix}quality ({metric}, 95% interval)",
                              y_label=metric, y_range=(0.0, 1.0) if unit and values else None,
                              zero=False, css_class="chart quality", **common),
    }
