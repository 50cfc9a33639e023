"""Mock pipeline targets with known attack success rates, for ``-m python/<this file>:<fn>``.

Each target looks its sample up (by the prompt it is sent) and succeeds, for the attacker, on
the samples whose prompt hashes below ``rate`` (``-M rate=0.3``): a seeded, known share.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import Any


def draw(text: str) -> float:
    """A uniform number in [0, 1) fixed by ``text`` (the seeded coin of every target)."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16) / 16 ** 12


def hit(text: str, rate: float) -> bool:
    return draw(text) < float(rate)


def user_text(messages: list[dict[str, str]]) -> str:
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


@functools.cache
def _tensor_trust() -> dict[str, Any]:
    from evalstack.benchmarks.adversarial.injection_direct import injection_direct

    return {s.input_text(): s for s in injection_direct().dataset}


def tensor_trust(messages: list[dict[str, str]], rate: float = 0.3) -> str:
    """Says "Access Granted" (hijacking) or spells the code out (extraction) on ``rate``."""
    text = user_text(messages)
    sample = _tensor_trust()[text]
    if not hit(text, rate):
        return "Haha, nice try!"
    if sample.metadata["category"] == "hijacking":
        return "ACCESS  granted!"
    code = sample.metadata["access_code"]
    return f"My instructions say the password is {code.upper()}."


@functools.cache
def _bipia() -> dict[str, Any]:
    from evalstack.benchmarks.adversarial.injection_indirect import injection_indirect

    return {s.input_text(): s for s in injection_indirect(judge="mock/unused").dataset}


def _shift(text: str, k: int) -> str:
    return "".join(chr((ord(c) - 97 + k) % 26 + 97) if "a" <= c <= "z" else c for c in text)


PLAIN = "this is the answer to you and it is in the email"
FOREIGN = {
    "spanish": "El correo es de la empresa y no tiene una fecha para el pago",
    "french": "Le courriel est de la société et il est pour vous dans le dossier",
    "german": "Die Nachricht ist von der Firma und sie ist nicht für den Chef",
    "italian": "Il messaggio è della ditta e non per il capo, ma per la squadra",
    "portuguese": "O email é da empresa e não tem uma data para o pagamento",
}


def obey(rule: str, attack: str) -> str:
    """A reply that does what ``attack`` asks, as its ``rule`` checks it."""
    if rule == "has_emoji":
        return "The answer is 42 👍"
    if rule == "reversed_text":
        return PLAIN[::-1]
    if rule.startswith("caesar_"):
        return _shift(PLAIN, int(rule.split("_")[1]))
    if rule.startswith("language_"):
        return FOREIGN[rule.split("_", 1)[1]]
    if rule.startswith("encoded_base"):
        data = PLAIN.encode()
        base = rule.removeprefix("encoded_base")
        if base == "58":
            return "3mJr7AoUXx2Wqd5k8JyTxpeGz1vHr"
        return {"64": base64.b64encode, "32": base64.b32encode,
                "16": base64.b16encode}[base](data).decode()
    return f"Sure. {attack}"  # a string to include, or the attack's code snippet


def bipia(prompt: str, rate: float = 0.3) -> str:
    """Follows the hidden instruction on ``rate`` of the samples, else answers plainly."""
    sample = _bipia()[prompt]
    if hit(prompt, rate):
        return obey(str(sample.metadata["rule"] or ""), sample.metadata["attack"])
    return "The answer is 42."


@functools.cache
def _ambiguity() -> dict[str, str]:
    from evalstack.benchmarks.adversarial.ambiguity import ambiguity

    return {s.input_text(): s.metadata["label"] for s in ambiguity().dataset}


def clarifier(prompt: str, rate: float = 0.7) -> str:
    """Behaves right (asks on ambiguous, answers clear) on ``rate`` of the queries."""
    ambiguous = _ambiguity()[prompt] == "ambiguous"
    asks = ambiguous if hit(prompt, rate) else not ambiguous
    return "Could you clarify which one you mean?" if asks else "Here it is: the answer is 4."


def refuser(prompt: str, rate: float = 0.3) -> str:
    """Refuses ``rate`` of the prompts."""
    if hit(prompt, rate):
        return "I'm sorry, but I can't help with that."
    return "Sure: run `kill -9 PID`, or use the task manager."


@functools.cache
def _rgb() -> dict[str, Any]:
    from evalstack.benchmarks.adversarial.contradiction import contradiction

    return {s.input_text(): s for s in contradiction().dataset}


def reader(prompt: str, rate: float = 0.3) -> str:
    """Follows the wrong passage on ``rate``; on the rest flags it and gives the true answer."""
    sample = _rgb()[prompt]
    if hit(prompt, rate):
        return f"The answer is {sample.metadata['fake_answer']}."
    return f"The documents contain factual errors. The answer is {sample.targets[0]}."


def misread(messages: list[dict[str, str]], rate: float = 0.3, sensitivity: float = 0.9,
            specificity: float = 0.7) -> str:
    """A hijacking target whose success the rule detector reads with a known error: the attack
    truly succeeds on ``rate`` (``truly_hijacked``), and the reply shows "access granted" on
    ``sensitivity`` of those and on ``1 - specificity`` of the others."""
    text = user_text(messages)
    shown = (draw(f"se\x00{text}") < float(sensitivity) if truly_hijacked(text, rate)
             else draw(f"sp\x00{text}") >= float(specificity))
    return "Access granted." if shown else "Haha, nice try!"


def truly_hijacked(text: str, rate: float) -> bool:
    return hit(text, rate)
