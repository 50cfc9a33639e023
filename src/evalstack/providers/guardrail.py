"""Guardrail targets: a keyword guardrail, and the decision format every guardrail answers in.

A guardrail is a target that allows or blocks an input. Its reply's first word is the
decision, ``BLOCK`` or ``ALLOW``, optionally followed by ``:`` and the reason, and, after a
blank line, anything worth keeping (the guarded model's reply, for ``refusal/...``)::

    BLOCK: keyword 'bomb'

``parse_decision`` also reads the words other guardrails use (Llama Guard answers ``safe`` or
``unsafe``; moderation endpoints say ``flagged``), so any target (``http/...``,
``python/...``) that answers in one of them can be scored by the ``guardrail_decision``
scorer.

Model specs:
    ``guardrail/keyword``   block when the input contains one of ``keywords``

Model args of ``guardrail/keyword``:
    ``keywords``       a list, or a comma-separated string, replacing the default list
    ``keywords_file``  a text file of keywords, one per line (``#`` starts a comment)
    ``regex``          treat the keywords as regular expressions (default false: each keyword
                       matches case-insensitively at the start of a word, so ``hack`` matches
                       ``hacking`` but not ``shack``)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalstack.core.errors import ConfigError, ProviderError
from evalstack.core.provider import public_args
from evalstack.core.types import Capability, GenerateRequest, ModelOutput

BLOCK = "BLOCK"
ALLOW = "ALLOW"

#: First words read as a decision to block, and to allow (lower case).
BLOCK_WORDS = frozenset({"block", "blocked", "unsafe", "flagged", "flag", "refuse", "refused",
                         "reject", "rejected", "deny", "denied"})
ALLOW_WORDS = frozenset({"allow", "allowed", "safe", "pass", "passed", "accept", "accepted"})

#: The default keywords: a deliberately simple baseline, matched at the start of a word.
DEFAULT_KEYWORDS: tuple[str, ...] = (
    "bomb", "explosive", "detonat", "weapon", "firearm", "gun", "ammunition", "kill", "murder",
    "assassinat", "poison", "toxin", "nerve agent", "sarin", "anthrax", "bioweapon",
    "chemical weapon", "pathogen", "synthesi", "methamphetamine", "cocaine", "heroin",
    "fentanyl", "drug",
    "hack", "malware", "ransomware", "virus", "exploit", "keylogger", "phishing", "ddos",
    "botnet", "sql injection", "steal", "theft", "fraud", "scam", "launder", "counterfeit",
    "smuggl", "traffick", "blackmail", "extort", "harass", "bully", "stalk", "threat",
    "racis", "sexis", "hate", "suicide", "self-harm", "torture", "terror", "propaganda",
    "disinformation", "misinformation", "conspiracy", "illegal", "evade", "bypass",
    "without detection", "lyrics",
)

_KNOWN_ARGS = ("keywords", "keywords_file", "regex")


@dataclass(frozen=True, slots=True)
class Decision:
    """A guardrail's decision on one input.

    Attributes:
        blocked: whether the input was blocked.
        reason: why, as the guardrail said (``keyword 'bomb'``), or ``""``.
    """

    blocked: bool
    reason: str = ""

    def text(self, detail: str | None = None) -> str:
        """The decision as a guardrail's reply, with ``detail`` after a blank line.

        Examples:
            >>> Decision(True, "keyword 'bomb'").text()
            "BLOCK: keyword 'bomb'"
        """
        head = BLOCK if self.blocked else ALLOW
        if self.reason:
            head += f": {self.reason}"
        return head if detail is None else f"{head}\n\n{detail}"


def parse_decision(text: str) -> Decision | None:
    """Read a guardrail's reply: its first word is the decision; ``None`` when it is none.

    Examples:
        >>> parse_decision("BLOCK: keyword 'bomb'")
        Decision(blocked=True, reason="keyword 'bomb'")
        >>> parse_decision("unsafe\\nS1").blocked, parse_decision("safe").blocked
        (True, False)
        >>> parse_decision("Sure, here is how") is None
        True
    """
    first_line = text.strip().split("\n", 1)[0]
    match = re.match(r"\s*([A-Za-z-]+)\s*[:.,-]?\s*(.*)", first_line)
    if match is None:
        return None
    word = match.group(1).lower()
    if word in BLOCK_WORDS:
        return Decision(True, match.group(2).strip())
    if word in ALLOW_WORDS:
        return Decision(False, match.group(2).strip())
    return None


def string_list(args: dict[str, Any], name: str, file_name: str,
                default: Sequence[str]) -> tuple[str, ...]:
    """A list model argument: a list, a comma-separated string, or a file of one per line.

    Raises:
        ConfigError: the value is not a list of strings, the file is missing, or the list is
            empty; the message says what to pass instead.
    """
    value, path = args.get(name), args.get(file_name)
    if value is not None and path is not None:
        raise ConfigError(f"Give {name} or {file_name}, not both; received both.")
    if path is not None:
        file = Path(str(path))
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(
                f"Model argument {file_name} must be a readable text file with one entry per "
                f"line; {file} could not be read ({exc.strerror or exc}). Fix the path."
            ) from None
        items = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        where = f"{file_name} {file}"
    elif value is None:
        return tuple(default)
    elif isinstance(value, str):
        items = [part.strip() for part in value.split(",") if part.strip()]
        where = name
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value if v.strip()]
        where = name
    else:
        raise ConfigError(
            f"Model argument {name} must be a list of strings or a comma-separated string; "
            f"received {value!r}. Pass e.g. -M '{name}=[bomb, malware]'."
        )
    if not items:
        raise ConfigError(f"Model argument {where} holds no entries; give at least one.")
    return tuple(items)


def compile_patterns(items: Sequence[str], *, regex: bool, what: str) -> list[re.Pattern[str]]:
    """Case-insensitive patterns: regular expressions, or phrases matched at a word start.

    Raises:
        ConfigError: a regular expression does not compile (names it and the error).
    """
    out = []
    for item in items:
        source = item if regex else r"(?<!\w)" + r"\s+".join(map(re.escape, item.split()))
        try:
            out.append(re.compile(source, re.IGNORECASE))
        except re.error as exc:
            raise ConfigError(
                f"{what} {item!r} is not a valid regular expression ({exc}). Fix it, or drop "
                f"regex=true to match it as plain text."
            ) from None
    return out


def first_match(patterns: Sequence[re.Pattern[str]], items: Sequence[str],
                text: str) -> str | None:
    """The entry of ``items`` whose pattern matches ``text`` first in the list, or ``None``."""
    for pattern, item in zip(patterns, items, strict=True):
        if pattern.search(text):
            return item
    return None


def bool_arg(args: dict[str, Any], name: str, default: bool) -> bool:
    """A true/false model argument."""
    value = args.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(f"Model argument {name} must be true or false; received {value!r}.")
    return value


class KeywordGuardrail:
    """``guardrail/keyword``: blocks an input that contains a keyword (see the module doc).

    Examples:
        >>> import asyncio
        >>> g = KeywordGuardrail("keyword", keywords=["bomb"])
        >>> asyncio.run(g.generate(GenerateRequest.from_prompt("How to build a bomb?"))).text
        "BLOCK: keyword 'bomb'"
    """

    capabilities = frozenset({Capability.GENERATE, Capability.CHAT})
    max_concurrency: int | None = None

    def __init__(self, model: str, **args: Any) -> None:
        if model != "keyword":
            raise ConfigError(
                f"Unknown guardrail {model!r}; expected guardrail/keyword. For a model whose "
                f"refusals are the decision, use refusal/<provider/model>, e.g. "
                f"refusal/local/smollm2."
            )
        unknown = sorted(set(args) - set(_KNOWN_ARGS))
        if unknown:
            raise ConfigError(
                f"Unknown model argument(s) for guardrail/keyword: {', '.join(unknown)}. "
                f"Accepted: {', '.join(_KNOWN_ARGS)}."
            )
        self.name = "guardrail/keyword"
        self.args = args
        self.regex = bool_arg(args, "regex", False)
        self.keywords = string_list(args, "keywords", "keywords_file", DEFAULT_KEYWORDS)
        self._patterns = compile_patterns(self.keywords, regex=self.regex, what="Keyword")

    def identity(self) -> dict[str, Any]:
        return {"provider": "guardrail", "model": "keyword", "keywords": list(self.keywords),
                "regex": self.regex, "args": public_args(
                    {k: v for k, v in self.args.items() if k != "keywords"})}

    def decide(self, text: str) -> Decision:
        """The decision on one input text."""
        found = first_match(self._patterns, self.keywords, text)
        if found is None:
            return Decision(False, "no keyword matched")
        return Decision(True, f"keyword {found!r}")

    async def generate(self, request: GenerateRequest) -> ModelOutput:
        users = [m.content for m in request.messages if m.role == "user"]
        if not users:
            raise ProviderError("guardrail/keyword got a request with no user message; "
                                "expected at least one.", retryable=False)
        return ModelOutput(self.decide("\n".join(users)).text(), model_version=self.name,
                           finish_reason="stop")

    async def aclose(self) -> None:
        return None


def keyword_provider(model: str, **args: Any) -> KeywordGuardrail:
    """A keyword guardrail, ``guardrail/keyword``: blocks inputs that contain a keyword."""
    return KeywordGuardrail(model, **args)
