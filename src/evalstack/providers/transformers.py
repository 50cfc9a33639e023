"""Hugging Face causal language models run in-process with PyTorch (``transformers/<model>``).

``<model>`` is a local directory written by ``save_pretrained`` or a hub id; loading goes
through ``AutoModelForCausalLM.from_pretrained``, so a hub id works wherever the hub (or its
local cache, with ``HF_HUB_OFFLINE=1``) does. Install with ``pip install 'evalstack[transformers]'``
after installing torch from your platform's channel.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalstack.core.errors import ConfigError, MissingDependencyError, ProviderError
from evalstack.core.provider import public_args
from evalstack.core.text import DEFAULT_MAX_OUTPUT_CHARS, cap_text
from evalstack.core.types import (
    Capability,
    ChatMessage,
    GenerateRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    ModelOutput,
    TokenScores,
    TokenScoresRequest,
)
from evalstack.providers._args import int_arg
from evalstack.providers._worker import WorkerThreadModel, common_prefix

#: Generation length when a request does not set ``max_tokens``.
DEFAULT_MAX_TOKENS = 512
_DTYPES = ("float32", "float16", "bfloat16")
_KNOWN_ARGS = (
    "device",
    "dtype",
    "batch_size",
    "max_length",
    "trust_remote_code",
    "chat_template",
    "seed",
    "max_output_chars",
)
_SMALL_FILE = 1 << 20


def _bool_arg(args: Mapping[str, Any], name: str, default: bool | None) -> bool | None:
    value = args.get(name, default)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
        return value.lower() in {"true", "1", "yes"}
    raise ConfigError(f"Model argument {name} must be true or false; received {value!r}.")


def _looks_local(model: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else is meant as a path on this machine.
    return model.startswith(("/", ".", "~")) or "\\" in model or model.count("/") > 1


def directory_fingerprint(path: Path) -> str:
    """A cheap hash of a model directory: every file's name and size, and small files' bytes."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path).as_posix()}\0{size}\0".encode())
        if size <= _SMALL_FILE:
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _plain_prompt(messages: Sequence[ChatMessage]) -> str:
    return "\n\n".join(m.content for m in messages)


class TransformersProvider(WorkerThreadModel):
    """A Hugging Face causal LM run with PyTorch in one dedicated worker thread.

    The model is loaded on the first call. Log-likelihoods are batched: the continuations of
    one request are padded into batches of ``batch_size`` and scored with one forward pass
    per batch.

    Args:
        model: a local ``save_pretrained`` directory or a hub id.
        device: a torch device (``"cpu"``).
        dtype: ``float32`` (default), ``float16`` or ``bfloat16``.
        batch_size: sequences per forward pass when scoring (8).
        max_length: longest sequence the model sees; defaults to the model's position limit.
            Longer contexts are cut from the left.
        trust_remote_code: allow the model repository's own Python code (False).
        chat_template: use the tokenizer's chat template for ``generate``: ``None`` (default)
            when it has one, ``True`` to require one, ``False`` for a plain prompt (the
            messages' contents joined by blank lines).
        seed: sampling seed when a request sets a temperature but no seed (0).
        max_output_chars: generated text longer than this is cut and flagged ``truncated``.

    Examples:
        >>> import asyncio
        >>> from evalstack.core.types import LoglikelihoodRequest
        >>> p = TransformersProvider("/models/tiny-gpt2")  # doctest: +SKIP
        >>> req = LoglikelihoodRequest("The capital of France is", (" Paris", " London"))
        >>> paris, london = asyncio.run(p.loglikelihood(req)).logprobs  # doctest: +SKIP
        >>> paris > london  # doctest: +SKIP
        True
    """

    capabilities: frozenset[Capability] = frozenset(
        {Capability.GENERATE, Capability.LOGLIKELIHOOD, Capability.TOKEN_SCORES})
    max_concurrency: int | None = 1
    thread_name = "evalstack-transformers"

    def __init__(self, model: str, **args: Any) -> None:
        unknown = sorted(set(args) - set(_KNOWN_ARGS))
        if unknown:
            raise ConfigError(
                f"Unknown model argument(s) {', '.join(unknown)} for transformers; expected "
                f"some of {', '.join(_KNOWN_ARGS)}."
            )
        for package in ("torch", "transformers"):
            if importlib.util.find_spec(package) is None:
                raise MissingDependencyError(package, "transformers", "The transformers provider")
        self.name = f"transformers/{model}"
        self.model = model
        path = Path(model).expanduser()
        self.path: Path | None = path if path.exists() else None
        if self.path is None and _looks_local(model):
            raise ConfigError(
                f"Expected a model directory written by save_pretrained, or a hub id such as "
                f"'HuggingFaceTB/SmolLM2-135M'; received {model!r}, which does not exist. "
                f"Check the path."
            )
        if self.path is not None and not (self.path / "config.json").is_file():
            raise ConfigError(
                f"Expected {model!r} to be a model directory with a config.json (as written "
                f"by save_pretrained); it has none. Point to the folder that holds it."
            )
        self.device = str(args.get("device", "cpu"))
        self.dtype = str(args.get("dtype", "float32"))
        if self.dtype not in _DTYPES:
            raise ConfigError(
                f"Model argument dtype must be one of {', '.join(_DTYPES)}; "
                f"received {self.dtype!r}."
            )
        self.batch_size = int_arg(args, "batch_size", 8, 1)
        self.max_length = int_arg(args, "max_length", None, 2)
        self.trust_remote_code = bool(_bool_arg(args, "trust_remote_code", False))
        self.chat_template = _bool_arg(args, "chat_template", None)
        if self.chat_template:  # None decides at load time; only an explicit yes is known now
            self.capabilities = self.capabilities | {Capability.CHAT}
        self.seed = int_arg(args, "seed", 0, 0)
        self.max_output_chars = (
            int_arg(args, "max_output_chars", DEFAULT_MAX_OUTPUT_CHARS, 1)
            or DEFAULT_MAX_OUTPUT_CHARS
        )
        self._model: Any = None
        self._tokenizer: Any = None
        self._bos: list[int] = []
        self._limit = 0
        self._fingerprint: str | None = None

    def identity(self) -> dict[str, Any]:
        """Provider, model id (or folder name and content hash) and non-secret arguments."""
        ident: dict[str, Any] = {"provider": "transformers", "model": self.model}
        if self.path is not None:
            if self._fingerprint is None:
                self._fingerprint = directory_fingerprint(self.path)
            ident["model"] = self.path.resolve().name
            ident["fingerprint"] = self._fingerprint
        ident["args"] = public_args(
            {
                "device": self.device,
                "dtype": self.dtype,
                "max_length": self.max_length,
                "trust_remote_code": self.trust_remote_code,
                "chat_template": self.chat_template,
                "seed": self.seed,
                "max_output_chars": self.max_output_chars,
            }
        )
        return ident

    # -- everything below runs in the worker thread ---------------------------------------

    def _close_sync(self) -> None:
        self._model = self._tokenizer = None

    def _load(self) -> tuple[Any, Any]:
        if self._model is not None:
            return self._model, self._tokenizer
        try:
            import torch
            import transformers
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise MissingDependencyError(
                exc.name or "transformers", "transformers", "The transformers provider"
            ) from exc
        # transformers 4.56 renamed from_pretrained's torch_dtype to dtype.
        major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
        dtype_key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
        source = str(self.path) if self.path is not None else self.model
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                source, trust_remote_code=self.trust_remote_code
            )
            model = AutoModelForCausalLM.from_pretrained(
                source,
                trust_remote_code=self.trust_remote_code,
                **{dtype_key: getattr(torch, self.dtype)},
            )
        except OSError as exc:
            raise ConfigError(
                f"Could not load the model {self.model!r}: {exc}. Expected a local "
                f"save_pretrained directory or a hub id that is reachable (or cached, when "
                f"HF_HUB_OFFLINE=1)."
            ) from exc
        try:
            # transformers types .to() wrongly; unused-ignore: other releases type it right
            model.to(self.device)  # type: ignore[arg-type, unused-ignore]
        except (RuntimeError, AssertionError, ValueError) as exc:
            raise ConfigError(
                f"Expected a torch device available here, such as 'cpu'; received device="
                f"{self.device!r}, which failed: {exc}"
            ) from exc
        model.eval()  # type: ignore[no-untyped-call, unused-ignore]
        bos = tokenizer.bos_token_id
        with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
        self._bos = [bos] if bos is not None and with_special[:1] == [bos] else []
        limit = self.max_length
        if limit is None:
            config = model.config
            limit = getattr(config, "max_position_embeddings", None) or getattr(
                config, "n_positions", None
            )
        self._limit = int(limit or 2048)
        self._model, self._tokenizer = model, tokenizer
        return model, tokenizer

    def _encode(self, text: str) -> list[int]:
        ids = self._tokenizer(text, add_special_tokens=False)["input_ids"]
        return [*self._bos, *ids]

    def _start_token(self) -> int:
        tok = self._tokenizer
        token = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        if token is None:
            raise ProviderError("The tokenizer has neither a BOS nor an EOS token to start from.")
        return int(token)

    def _loglikelihood_sync(self, request: LoglikelihoodRequest) -> LoglikelihoodOutput:
        import torch

        self._load()
        context = self._encode(request.context)
        wholes = [self._encode(request.context + c) for c in request.continuations]
        if not context:
            start = self._start_token()
            context, wholes = [start], [[start, *w] for w in wholes]
        # Like lm-evaluation-harness: the continuation is the tail of context+continuation
        # after the longest prefix it shares with the context alone.
        items: list[tuple[list[int], int]] = []
        for whole in wholes:
            split = common_prefix(context, whole)
            if split == 0:
                whole, split = [self._start_token(), *whole], 1
            drop = max(0, len(whole) - self._limit)
            if drop >= split:
                raise ProviderError(
                    f"A continuation is {len(whole) - split} tokens long; the model sees at "
                    f"most {self._limit}. Raise the max_length model argument if the model "
                    f"allows it."
                )
            items.append((whole[drop:], split - drop))

        logprobs = [0.0] * len(items)
        greedy = [True] * len(items)
        # Longest first, so each batch pads little; results go back in request order.
        order = sorted(
            (i for i, (w, s) in enumerate(items) if s < len(w)), key=lambda i: -len(items[i][0])
        )
        pad = self._tokenizer.pad_token_id
        pad = pad if pad is not None else 0
        with torch.inference_mode():
            for begin in range(0, len(order), self.batch_size):
                batch = order[begin : begin + self.batch_size]
                width = max(len(items[i][0]) - 1 for i in batch)
                input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    tokens = items[i][0][:-1]
                    input_ids[row, : len(tokens)] = torch.tensor(tokens)
                    mask[row, : len(tokens)] = 1
                logits = self._forward(input_ids, mask)
                for row, i in enumerate(batch):
                    whole, split = items[i]
                    picked = logits[row, split - 1 : len(whole) - 1].float()
                    targets = torch.tensor(whole[split:])
                    logsoft = torch.log_softmax(picked, dim=-1)
                    logprobs[i] = float(logsoft.gather(1, targets[:, None]).sum())
                    greedy[i] = bool((picked.argmax(dim=-1) == targets).all())
        input_tokens = len(context) + sum(len(w) - s for w, s in items)
        return LoglikelihoodOutput(tuple(logprobs), tuple(greedy), input_tokens)

    async def token_scores(self, request: TokenScoresRequest) -> TokenScores:
        """Every token's ``log p(token | prefix)`` and each position's mean and variance."""
        scored: TokenScores = await self._run(self._token_scores_sync, request)
        return scored

    def _token_scores_sync(self, request: TokenScoresRequest) -> TokenScores:
        import torch

        from evalstack.stats.mink import distribution_scores

        self._load()
        start = self._start_token()
        tokens = self._encode(request.text)
        if not tokens or tokens[0] != start:
            tokens = [start, *tokens]  # the first token of the text is scored given the start
        if len(tokens) > self._limit:
            raise ProviderError(
                f"The text is {len(tokens)} tokens long; the model sees at most "
                f"{self._limit}. Shorten the text or raise the max_length model argument."
            )
        if len(tokens) == 1:
            return TokenScores((), (), (), (), 1)
        with torch.inference_mode():
            ids = torch.tensor([tokens[:-1]], dtype=torch.long)
            logits = self._forward(ids, torch.ones_like(ids))[0].double().numpy()
        logprobs, mean, variance = distribution_scores(logits, tokens[1:])
        return TokenScores(tuple(tokens[1:]), tuple(map(float, logprobs)),
                           tuple(map(float, mean)), tuple(map(float, variance)), len(tokens))

    def _forward(self, input_ids: Any, mask: Any) -> Any:
        try:
            out = self._model(
                input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)
            )
        except RuntimeError as exc:
            raise ProviderError(f"The model's forward pass failed: {exc}") from exc
        return out.logits.cpu()

    def _prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        tok = self._tokenizer
        has_template = getattr(tok, "chat_template", None) is not None
        if self.chat_template and not has_template:
            raise ConfigError(
                f"chat_template=true needs a tokenizer with a chat template; the tokenizer of "
                f"{self.model!r} has none. Drop the argument to use a plain prompt."
            )
        if has_template and self.chat_template is not False:
            text = tok.apply_chat_template(
                [m.to_dict() for m in messages], tokenize=False, add_generation_prompt=True
            )
            # The template writes any BOS itself.
            return list(tok(text, add_special_tokens=False)["input_ids"])
        return self._encode(_plain_prompt(messages))

    def _generate_sync(self, request: GenerateRequest) -> ModelOutput:
        import torch
        from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

        model, tok = self._load()
        cfg = request.config
        prompt = self._prompt_ids(request.messages)
        room = self._limit - len(prompt)
        if room < 1:
            raise ProviderError(
                f"The prompt is {len(prompt)} tokens; the model sees at most {self._limit}. "
                f"Shorten the prompt or raise the max_length model argument."
            )
        max_new = min(cfg.max_tokens if cfg.max_tokens is not None else DEFAULT_MAX_TOKENS, room)
        stops = tuple(s for s in cfg.stop if s)
        tail = max((len(s) for s in stops), default=0) + 8

        class _StopStrings(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                text = tok.decode(input_ids[0, len(prompt) :][-tail:], skip_special_tokens=True)
                done = any(s in text for s in stops)
                return torch.full((input_ids.shape[0],), done, dtype=torch.bool)

        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = tok.eos_token_id
        sample = bool(cfg.temperature)
        options: dict[str, Any] = {
            "max_new_tokens": max_new,
            "do_sample": sample,
            "eos_token_id": eos,
            "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else eos,
        }
        if sample:
            options.update(temperature=float(cfg.temperature or 1.0), top_k=0)
            options["top_p"] = 1.0 if cfg.top_p is None else float(cfg.top_p)
            torch.manual_seed(self.seed if cfg.seed is None else int(cfg.seed))
        ids = torch.tensor([prompt], device=self.device)
        try:
            config = GenerationConfig(**options)  # type: ignore[no-untyped-call, unused-ignore]
            with torch.inference_mode():
                out = model.generate(
                    ids,
                    attention_mask=torch.ones_like(ids),
                    generation_config=config,
                    stopping_criteria=StoppingCriteriaList([_StopStrings()]) if stops else None,
                )
        except RuntimeError as exc:
            raise ProviderError(f"Generation failed: {exc}") from exc
        new = out[0, len(prompt) :].tolist()
        text = tok.decode(new, skip_special_tokens=True)
        eos_ids = {eos} if isinstance(eos, int) else set(eos or ())
        finish = "stop" if new and new[-1] in eos_ids else "length"
        cuts = [text.find(s) for s in stops if s in text]
        if cuts:
            text, finish = text[: min(cuts)], "stop"
        elif finish == "length" and len(new) < max_new:
            finish = "stop"
        text, truncated = cap_text(text, self.max_output_chars)
        return ModelOutput(
            text=text,
            input_tokens=len(prompt),
            output_tokens=len(new),
            model_version=self.path.resolve().name if self.path is not None else self.model,
            finish_reason=finish,
            truncated=truncated,
        )
