"""How decisions print numbers: points for proportions, p-values, plain-language phrases."""

from __future__ import annotations

import math


def is_proportion(*values: float) -> bool:
    """True when every finite value lies in [0, 1], so differences read as points."""
    return all(0.0 <= v <= 1.0 for v in values if math.isfinite(v))


def fmt_p(p: float | None) -> str:
    """A p-value as people write it.

    Examples:
        >>> fmt_p(0.00042), fmt_p(0.4712), fmt_p(3e-7), fmt_p(None)
        ('p=0.0004', 'p=0.47', 'p<0.0001', 'p=n/a')
    """
    if p is None or not math.isfinite(p):
        return "p=n/a"
    if p < 0.0001:
        return "p<0.0001"
    if p < 0.001:
        return f"p={p:.4f}"
    if p < 0.01:
        return f"p={p:.3f}"
    return f"p={p:.2f}"


def fmt_delta(value: float, points: bool, signed: bool = True) -> str:
    """A difference in points (x100) for proportions, else in the metric's own units.

    Examples:
        >>> fmt_delta(0.041, True), fmt_delta(-0.25, False), fmt_delta(0.041, True, False)
        ('+4.1', '-0.25', '4.1')
    """
    if not math.isfinite(value):
        return "n/a"
    v = value * 100 if points else value
    spec = "+.1f" if points else "+.3g"
    text = format(v, spec) if signed else format(abs(v), spec.lstrip("+"))
    return "+0.0" if text in ("-0.0", "+-0.0") else text


def fmt_interval(low: float, high: float, points: bool) -> str:
    """An interval in the units of ``fmt_delta``, without plus signs.

    Examples:
        >>> fmt_interval(0.019, 0.063, True), fmt_interval(-0.029, 0.013, True)
        ('[1.9, 6.3]', '[-2.9, 1.3]')
    """
    return f"[{fmt_delta(low, points).lstrip('+')}, {fmt_delta(high, points).lstrip('+')}]"


def fmt_value(value: float | None, points: bool) -> str:
    """A score: a percentage for proportions, three significant digits otherwise."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value * 100:.1f}%" if points else f"{value:.3g}"
