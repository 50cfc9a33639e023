"""Perturbations of a task's samples, for robustness and contamination checks.

A perturbation is named on the command line as ``NAME`` or ``NAME:key=value,key=value``
(``typos:rate=0.1,variants=4``); ``parse_perturbation`` builds it.
"""

from __future__ import annotations

import importlib
from typing import Any

from evalstack.core.errors import ConfigError
from evalstack.perturb.base import Perturbation, perturb_task

#: name -> "module:class", imported when used
PERTURBATIONS: dict[str, str] = {
    "rotate": "evalstack.perturb.choices:Rotate",
    "shuffle": "evalstack.perturb.choices:Shuffle",
    "labels": "evalstack.perturb.choices:Labels",
    "typos": "evalstack.perturb.noise:Typos",
    "casing": "evalstack.perturb.noise:Casing",
    "whitespace": "evalstack.perturb.noise:Whitespace",
    "distractor": "evalstack.perturb.noise:Distractor",
    "numbers": "evalstack.perturb.numbers:Numbers",
    "paraphrase": "evalstack.perturb.paraphrase:Paraphrase",
}


def perturbation_class(name: str) -> type[Perturbation]:
    if name not in PERTURBATIONS:
        import difflib

        near = difflib.get_close_matches(name, PERTURBATIONS, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise ConfigError(f"Unknown perturbation {name!r}.{hint} Known: "
                          f"{', '.join(PERTURBATIONS)}.")
    module, _, attr = PERTURBATIONS[name].partition(":")
    cls: type[Perturbation] = getattr(importlib.import_module(module), attr)
    return cls


def _value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_perturbation(text: str) -> Perturbation:
    """``rotate`` or ``typos:rate=0.1,variants=4`` -> the perturbation.

    Examples:
        >>> parse_perturbation("typos:rate=0.1,variants=2").params
        {'variants': 2, 'rate': 0.1}
    """
    name, _, rest = text.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"Perturbation {text!r}: expected NAME:key=value,...; got "
                              f"{item!r}.")
        params[key.strip()] = _value(value.strip())
    cls = perturbation_class(name.strip())
    if cls.__init__ is Perturbation.__init__ and params:
        raise ConfigError(f"Perturbation {name.strip()!r} takes no options; got "
                          f"{', '.join(params)}.")
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"Perturbation {text!r}: {exc}. See `evalstack robust --help` for "
                          "each perturbation's options.") from None


__all__ = ["PERTURBATIONS", "Perturbation", "parse_perturbation", "perturb_task"]
