"""A small RAG app to evaluate end to end: BM25 over SQuAD passages, answers from SmolLM2.

``POST /ask`` with ``{"question": ..., "k": 3, "retriever": "stemmed"}`` retrieves the ``k``
best passages with BM25 (the ``bm25s`` package) and asks the embedded model ``local/smollm2``
(SmolLM2-135M-Instruct on llama.cpp) to answer from them. The reply::

    {"answer": "The sporting capital of Australia is Sydney.",
     "contexts": [{"id": "pc8b92d57ef", "title": "Victoria (Australia)", "text": "...",
                   "score": 11.2, "words_in_prompt": 160}, ...],
     "usage": {"input_tokens": 301, "output_tokens": 3}}

The model reads the passages in rank order up to ``context_words`` words (160; the last one
read may be cut), so a deeper ranking costs no more prompt; every retrieved passage is in the
reply, with how many of its words the model read (``words_in_prompt``).

Two retrievers are built at start-up, so that one server can be evaluated in both settings:

- ``plain``: lower-cased words, nothing removed or stemmed;
- ``stemmed``: English stop words removed, the Snowball stemmer on the rest (``nltk``).

The model is resolved and called through evalstack's model layer (``resolve_model``,
``get_model``), as evalstack's own components call theirs. Serve it with ``serve.py``, or
with uvicorn itself (this folder must be on the import path, for ``corpus``)::

    python examples/rag/serve.py --port 8765
    python -m uvicorn --app-dir examples/rag app:app --port 8765

The data comes from ``$EVALSTACK_DATA_DIR`` (see ``corpus.py``); docs/rag.md evaluates it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import bm25s
from corpus import Passage, load_passages
from fastapi import FastAPI
from nltk.stem.snowball import SnowballStemmer
from pydantic import BaseModel, Field

from evalstack.core.provider import ModelProvider
from evalstack.core.types import ChatMessage, GenerateConfig, GenerateRequest
from evalstack.model import MODEL_ROLE, get_model, resolve_model

MODEL = "local/smollm2"
RetrieverName = Literal["plain", "stemmed"]

SYSTEM = ("You answer questions from the passages you are given. Reply with the answer only: "
          "a few words copied from the passages, not a sentence.")


@dataclass(frozen=True)
class Hit:
    """One retrieved passage and its BM25 score."""

    passage: Passage
    score: float


class Retriever:
    """BM25 (``bm25s``, Lucene's variant) over the passages, with one tokenizer setting.

    Args:
        passages: the corpus.
        stem: remove English stop words and stem with Snowball; else keep every word as is.
    """

    def __init__(self, passages: list[Passage], *, stem: bool) -> None:
        self.passages = passages
        stemmer = SnowballStemmer("english")
        self._stemmer: Callable[[list[str]], list[str]] | None = (
            (lambda words: [stemmer.stem(w) for w in words]) if stem else None)
        self._stopwords = "en" if stem else None
        self._index = bm25s.BM25()
        self._index.index(self._tokens([p.text for p in passages]), show_progress=False)

    def _tokens(self, texts: list[str]) -> Any:
        return bm25s.tokenize(texts, stopwords=self._stopwords, stemmer=self._stemmer,
                              show_progress=False)

    def search(self, question: str, k: int) -> list[Hit]:
        """The ``k`` best passages for ``question``, best first."""
        k = min(k, len(self.passages))
        docs, scores = self._index.retrieve(self._tokens([question]), k=k, show_progress=False)
        return [Hit(self.passages[int(i)], float(s)) for i, s in zip(docs[0], scores[0],
                                                                        strict=True)]


def pack(hits: list[Hit], budget: int) -> list[str]:
    """The passages' texts in rank order, the last one cut, to hold ``budget`` words in all.

    Examples:
        >>> hits = [Hit(Passage(i, "T", "one two three"), 1.0) for i in ("a", "b")]
        >>> pack(hits, 4)
        ['one two three', 'one']
    """
    texts, left = [], budget
    for h in hits:
        words = h.passage.text.split()
        if left <= 0:
            break
        texts.append(" ".join(words[:left]))
        left -= len(words)
    return texts


def prompt(question: str, hits: list[Hit], budget: int) -> tuple[ChatMessage, ...]:
    """The conversation the model answers: the passages, numbered, then the question."""
    texts = pack(hits, budget)
    passages = "\n\n".join(f"[{n}] {h.passage.title}: {text}"
                           for n, (h, text) in enumerate(zip(hits, texts, strict=False), 1))
    return (ChatMessage("system", SYSTEM),
            ChatMessage("user", f"Passages:\n{passages}\n\nQuestion: {question}\nAnswer:"))


class AskRequest(BaseModel):
    """The body of ``POST /ask``."""

    question: str = Field(min_length=1)
    k: int = Field(default=3, ge=1, le=10)
    retriever: RetrieverName = "stemmed"
    context_words: int = Field(default=160, ge=1, le=1000)
    max_tokens: int = Field(default=16, ge=1, le=256)


class Context(BaseModel):
    """One retrieved passage; ``words_in_prompt`` of its words fitted the model's budget."""

    id: str
    title: str
    text: str
    score: float
    words_in_prompt: int


class Usage(BaseModel):
    input_tokens: int | None
    output_tokens: int | None


class AskReply(BaseModel):
    """The reply of ``POST /ask``."""

    answer: str
    contexts: list[Context]
    usage: Usage


@dataclass
class State:
    retrievers: dict[str, Retriever]
    provider: ModelProvider


def create_app(model: str = MODEL, model_args: dict[str, Any] | None = None) -> FastAPI:
    """The FastAPI app; the corpus is indexed and the model loaded at start-up."""
    state: list[State] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        passages = load_passages()
        provider = resolve_model(model, model_args)
        prepare = getattr(provider, "prepare", None)
        if prepare is not None:
            await prepare()  # load the weights before the first question
        state.append(State({"plain": Retriever(passages, stem=False),
                            "stemmed": Retriever(passages, stem=True)}, provider))
        try:
            yield
        finally:
            await provider.aclose()

    app = FastAPI(title="evalstack RAG example", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "passages": len(state[0].retrievers["plain"].passages),
                "model": model}

    @app.post("/ask")
    async def ask(body: AskRequest) -> AskReply:
        hits = state[0].retrievers[body.retriever].search(body.question, body.k)
        used = pack(hits, body.context_words) + [""] * len(hits)
        config = GenerateConfig(max_tokens=body.max_tokens, temperature=0.0, stop=("\n",))
        # The model layer: retries, timeouts, one call at a time for the in-process model.
        out = await get_model(state[0].provider, role=MODEL_ROLE).generate(
            GenerateRequest(prompt(body.question, hits, body.context_words), config))
        return AskReply(
            answer=out.text.strip(),
            contexts=[Context(id=h.passage.id, title=h.passage.title, text=h.passage.text,
                              score=round(h.score, 4), words_in_prompt=len(text.split()))
                      for h, text in zip(hits, used, strict=False)],
            usage=Usage(input_tokens=out.input_tokens, output_tokens=out.output_tokens))

    return app


app = create_app()
