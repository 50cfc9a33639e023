"""Contamination by n-gram overlap: which of a task's items appear in a corpus you supply.

Normalisation and n-grams follow lm-evaluation-harness's decontamination
(``lm_eval/decontamination/janitor.py``): ASCII letters are lowercased, the characters of
``string.punctuation`` are deleted, and the text is split on whitespace; an n-gram is ``n``
consecutive tokens, 13 by default (the GPT-3 paper's 13-grams). An item is contaminated when at
least one of its n-grams occurs in the corpus.

An item's text is its input (chat messages joined by newlines), then each choice, then each
target, one per line; a target that is only a choice letter (``B`` for multiple choice) is left
out, as its choice text is already there. Items shorter than ``n`` tokens have no n-gram and are
reported as unchecked, outside the rate's ``n``.

The corpus is streamed: ``.txt`` files are read in chunks of ``chunk_bytes``, carrying the last
``n - 1`` tokens (and any partial word) into the next chunk so that an overlap split across
chunks is still found; ``.jsonl`` files are read one line at a time, each record's text field
being its own document (an n-gram never spans two records). ``.gz`` versions of both are read
the same way. Memory holds the item n-grams (as 64-bit Python hashes of token tuples, valid
within one process) and about two chunks, whatever the corpus size.

Offsets: for ``.txt`` the byte offset of the matching n-gram's first token in the
(uncompressed) file; for ``.jsonl`` the byte offset of the record's line.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import string
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from evalstack.core.errors import ConfigError, DataError
from evalstack.core.types import Sample
from evalstack.stats.intervals import wilson_ci
from evalstack.stats.result import StatResult

DEFAULT_N = 13
DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024
SUFFIXES = (".txt", ".jsonl", ".txt.gz", ".jsonl.gz")

# lm-eval's Janitor: str.maketrans(ascii_lowercase + ascii_uppercase, ascii_lowercase * 2,
# string.punctuation). Both are ASCII, so applying it to UTF-8 bytes gives the same text.
_STR_TABLE = str.maketrans(string.ascii_lowercase + string.ascii_uppercase,
                           string.ascii_lowercase * 2, string.punctuation)
_BYTES_TABLE = bytes.maketrans(string.ascii_uppercase.encode(), string.ascii_lowercase.encode())
_PUNCT = string.punctuation.encode()
_WS = b" \t\n\r\x0b\x0c"
_TOKEN = re.compile(rb"\S+")
_SNIFF = 8192


def normalize(text: str) -> str:
    """lm-eval's ``Janitor.normalize_string``: lowercase ASCII, delete ASCII punctuation.

    Examples:
        >>> normalize("The Cat's hat, (really)!")
        'the cats hat really'
    """
    return text.translate(_STR_TABLE)


def tokens(text: str) -> list[str]:
    """The normalised whitespace tokens of ``text``."""
    return normalize(text).split()


def ngrams(text: str, n: int = DEFAULT_N) -> list[tuple[str, ...]]:
    """The n-grams of ``text`` after normalisation, in order (none if it is shorter than n).

    Examples:
        >>> ngrams("A b, C d!", 3)
        [('a', 'b', 'c'), ('b', 'c', 'd')]
    """
    toks = tokens(text)
    return [tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)]


def item_text(sample: Sample) -> str:
    """The text checked for an item: input, choices, then targets (see the module docstring)."""
    parts = [sample.input if isinstance(sample.input, str)
             else "\n".join(m.content for m in sample.input)]
    choices = list(sample.choices or ())
    parts += choices
    targets = [sample.target] if isinstance(sample.target, str) else list(sample.target)
    letters = {chr(ord("A") + i) for i in range(len(choices))}
    parts += [t for t in targets if t and not (choices and t.strip() in letters)]
    return "\n".join(parts)


@dataclass(frozen=True)
class CorpusFile:
    """One corpus file to stream: its path, kind (``txt``/``jsonl``), compression and size."""

    path: Path
    kind: str
    gz: bool
    size: int


@dataclass(frozen=True)
class ItemOverlap:
    """One item's overlap with the corpus.

    Attributes:
        id: the sample id.
        n_ngrams: how many distinct n-grams the item has (0: shorter than n, unchecked).
        found: how many of them occur somewhere in the corpus.
        fraction: ``found / n_ngrams`` (``nan`` when unchecked).
        first_file: the corpus file of the first occurrence found (in streaming order).
        first_offset: its byte offset (see the module docstring).
    """

    id: str
    n_ngrams: int
    found: int
    fraction: float
    first_file: str | None = None
    first_offset: int | None = None

    @property
    def contaminated(self) -> bool:
        return self.found > 0


@dataclass(frozen=True)
class OverlapReport:
    """Every item's overlap and the contamination rate with its Wilson 95% interval."""

    n: int
    items: tuple[ItemOverlap, ...]
    rate: StatResult
    unchecked: int
    corpus_files: int
    corpus_bytes: int

    @property
    def contaminated(self) -> tuple[ItemOverlap, ...]:
        return tuple(i for i in self.items if i.contaminated)

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            "n_gram": self.n,
            "items": len(self.items),
            "checked": self.rate.n,
            "unchecked_short_items": self.unchecked,
            "contaminated": len(self.contaminated),
            "rate": {"estimate": num(self.rate.estimate), "ci_low": num(self.rate.ci_low),
                     "ci_high": num(self.rate.ci_high), "n": self.rate.n,
                     "method": self.rate.method, "confidence": 0.95},
            "corpus_files": self.corpus_files,
            "corpus_bytes": self.corpus_bytes,
            "contaminated_items": [
                {"id": i.id, "n_ngrams": i.n_ngrams, "found": i.found,
                 "fraction": num(i.fraction), "first_file": i.first_file,
                 "first_offset": i.first_offset} for i in self.contaminated],
        }


# ----------------------------------------------------------------------------- corpus files

def _kind(path: Path) -> tuple[str, bool] | None:
    name = path.name.lower()
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return suffix.split(".")[1], suffix.endswith(".gz")
    return None


def corpus_files(paths: Sequence[str | os.PathLike[str]]) -> list[CorpusFile]:
    """The corpus files named by ``paths`` (files, or directories searched recursively).

    Every file is checked before anything is computed: it must exist, be readable, have a
    supported suffix (given explicitly) and start as UTF-8 text (gzip for ``.gz``).

    Raises:
        ConfigError: no path, a missing or unreadable path, a directory without corpus files,
            a file with an unsupported suffix.
        DataError: a file that is not text (or not gzip for ``.gz``).
    """
    if not paths:
        raise ConfigError("Expected at least one corpus path (--corpus FILE_OR_DIR); "
                          "received none.")
    found: list[CorpusFile] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise ConfigError(f"Corpus path not found: {path}. Expected an existing file or "
                              f"directory of {', '.join(SUFFIXES)} files.")
        if path.is_dir():
            try:
                files = sorted(p for p in path.rglob("*") if p.is_file() and _kind(p))
            except OSError as exc:
                raise ConfigError(f"Cannot read corpus directory {path}: "
                                  f"{exc.strerror or exc}. Check its permissions.") from None
            if not files:
                raise ConfigError(f"Corpus directory {path} holds no corpus files: expected "
                                  f"files ending in {', '.join(SUFFIXES)} (searched "
                                  f"recursively). Add some or point --corpus elsewhere.")
        else:
            if _kind(path) is None:
                raise ConfigError(f"Corpus file {path} has an unsupported type: expected a name "
                                  f"ending in {', '.join(SUFFIXES)}. Rename it if it is text.")
            files = [path]
        for f in files:
            kind, gz = _kind(f) or ("txt", False)
            _sniff(f, gz)
            found.append(CorpusFile(f, kind, gz, f.stat().st_size))
    return found


def _sniff(path: Path, gz: bool) -> None:
    try:
        with open(path, "rb") as raw:
            if gz:
                try:
                    head = gzip.GzipFile(fileobj=raw).read(_SNIFF)
                except (OSError, EOFError, zlib.error) as exc:
                    raise DataError(f"Corpus file {path} is not gzip data ({exc}); expected a "
                                    f"gzip-compressed text file for a .gz name.") from None
            else:
                head = raw.read(_SNIFF)
    except PermissionError:
        raise ConfigError(f"Cannot read corpus file {path}: permission denied. Check its "
                          f"permissions.") from None
    except OSError as exc:
        if isinstance(exc, DataError):
            raise
        raise ConfigError(f"Cannot read corpus file {path}: {exc.strerror or exc}.") from None
    if b"\x00" in head:
        raise DataError(f"Corpus file {path} is not text: it holds NUL bytes in its first "
                        f"{_SNIFF} bytes. Expected UTF-8 text (binary files are refused).")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the sniff boundary
            raise DataError(f"Corpus file {path} is not UTF-8 text (invalid byte at offset "
                            f"{exc.start}). Convert it to UTF-8.") from None


# ----------------------------------------------------------------------------- item index

@dataclass
class _Index:
    n: int
    ids: list[str]
    sizes: list[int]
    lookup: dict[int, int | tuple[int, ...]]   # n-gram hash -> item(s)
    starts: frozenset[str]                      # first tokens of item n-grams
    found: list[set[int]] = field(default_factory=list)
    first: list[tuple[str, int] | None] = field(default_factory=list)


def _build_index(samples: Iterable[Sample], n: int) -> _Index:
    ids: list[str] = []
    sizes: list[int] = []
    lookup: dict[int, int | tuple[int, ...]] = {}
    starts: set[str] = set()
    for idx, sample in enumerate(samples):
        ids.append(str(sample.id))
        hashes = set()
        for gram in ngrams(item_text(sample), n):
            starts.add(gram[0])
            hashes.add(hash(gram))
        sizes.append(len(hashes))
        for h in hashes:
            have = lookup.get(h)
            lookup[h] = idx if have is None else (
                (have, idx) if isinstance(have, int) else (*have, idx))
    return _Index(n, ids, sizes, lookup, frozenset(starts), [set() for _ in ids],
                  [None for _ in ids])


# ----------------------------------------------------------------------------- streaming

class _Scanner:
    """Scans one document's chunks, carrying the last n-1 tokens across chunk boundaries."""

    def __init__(self, index: _Index, label: str) -> None:
        self.index = index
        self.label = label
        self.carry = b""          # raw bytes: the last n-1 complete tokens and a partial word
        self.carry_offset = 0     # file offset of carry[0]
        self.carry_tokens = 0     # normalised tokens in the complete part of the carry

    def feed(self, chunk: bytes, offset: int, fixed_offset: int | None = None) -> None:
        """Scan ``chunk`` (file offset ``offset``); the document's last chunk is ``b""``."""
        buf = self.carry + chunk
        start = offset - len(self.carry)
        if chunk:
            cut = max(buf.rfind(c) for c in _WS) + 1  # complete tokens end at a whitespace
            if cut <= 0 and len(buf) > 2 * max(len(chunk), 1024):  # one giant "word": cut it
                cut = max(len(buf) - 4, 0)  # before a character's first byte
                while cut < len(buf) and buf[cut] & 0xC0 == 0x80:
                    cut += 1
        else:
            cut = len(buf)
        body = buf[:cut]
        try:
            toks = body.translate(_BYTES_TABLE, _PUNCT).decode("utf-8").split()
        except UnicodeDecodeError as exc:
            raise DataError(f"Corpus file {self.label} is not UTF-8 text near byte "
                            f"{start + exc.start}. Convert it to UTF-8.") from None
        self._scan(toks, body, start, fixed_offset)
        if chunk:
            keep = self._tail_start(body)
            self.carry = buf[keep:]
            self.carry_offset = start + keep
            self.carry_tokens = len(body[keep:].translate(None, _PUNCT).split())
        else:
            self.carry, self.carry_tokens = b"", 0

    def _tail_start(self, body: bytes) -> int:
        """Where the last n-1 tokens (non-empty once normalised) of ``body`` begin."""
        need = self.index.n - 1
        pos = len(body)
        while need > 0 and pos > 0:
            end = pos
            while end > 0 and body[end - 1] in _WS:
                end -= 1
            begin = end
            while begin > 0 and body[begin - 1] not in _WS:
                begin -= 1
            if begin == end:
                break
            if body[begin:end].translate(None, _PUNCT):
                need -= 1
            pos = begin
        return pos

    def _scan(self, toks: list[str], body: bytes, start: int, fixed: int | None) -> None:
        index = self.index
        n = index.n
        last = len(toks) - n
        if last < 0:
            return
        first = max(0, self.carry_tokens - n + 1)  # n-grams wholly in the carry were scanned
        starts = index.starts
        lookup = index.lookup
        offsets: list[int] | None = None
        for i in [i for i, t in enumerate(toks) if t in starts]:
            if i < first or i > last:
                continue
            h = hash(tuple(toks[i:i + n]))
            hit = lookup.get(h)
            if hit is None:
                continue
            for item in (hit,) if isinstance(hit, int) else hit:
                index.found[item].add(h)
                if index.first[item] is None:
                    if fixed is not None:
                        where = fixed
                    else:
                        if offsets is None:
                            offsets = _token_offsets(body)
                        where = start + (offsets[i] if i < len(offsets) else 0)
                    index.first[item] = (self.label, where)


def _token_offsets(body: bytes) -> list[int]:
    """The byte offset in ``body`` of each normalised token (as ``split`` counts them)."""
    out: list[int] = []
    for m in _TOKEN.finditer(body):
        pieces = m.group().translate(_BYTES_TABLE, _PUNCT).decode("utf-8", "replace").split()
        out.extend([m.start()] * len(pieces))
    return out


def _open(f: CorpusFile) -> tuple[IO[bytes], IO[bytes]]:
    raw = open(f.path, "rb")  # noqa: SIM115 - closed by the caller
    if f.gz:
        return raw, gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw, raw


def _stream(f: CorpusFile, index: _Index, chunk_bytes: int, text_field: str,
            progress: Callable[[int], None]) -> None:
    label = str(f.path)
    raw, stream = _open(f)
    reported = 0

    def tick() -> None:
        nonlocal reported
        pos = raw.tell()
        if pos > reported:
            progress(pos - reported)
            reported = pos

    try:
        if f.kind == "txt":
            scanner = _Scanner(index, label)
            offset = 0
            while chunk := stream.read(chunk_bytes):
                scanner.feed(chunk, offset)
                offset += len(chunk)
                tick()
            scanner.feed(b"", offset)
        else:
            offset = 0
            for lineno, line in enumerate(stream, 1):
                here = offset
                offset += len(line)
                if not line.strip():
                    continue
                text = _record_text(line, text_field, label, lineno)
                data = text.encode("utf-8")
                scanner = _Scanner(index, label)
                for k in range(0, len(data), chunk_bytes):
                    scanner.feed(data[k:k + chunk_bytes], here, fixed_offset=here)
                scanner.feed(b"", here, fixed_offset=here)
                if lineno % 256 == 0:
                    tick()
        tick()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"Cannot read corpus file {label}: {exc}.") from None
    finally:
        stream.close()
        raw.close()


def _record_text(line: bytes, text_field: str, label: str, lineno: int) -> str:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise DataError(f"{label}, line {lineno}: not valid JSON ({exc}). Expected one JSON "
                        f"object per line with a {text_field!r} field.") from None
    if not isinstance(record, dict) or text_field not in record:
        got = ("keys " + ", ".join(map(str, list(record)[:5])) if isinstance(record, dict)
               else type(record).__name__)
        raise DataError(f"{label}, line {lineno}: expected a JSON object with a "
                        f"{text_field!r} field; received {got}. Name the field with "
                        "text_field (--text-field).")
    value = record[text_field]
    if not isinstance(value, str):
        raise DataError(f"{label}, line {lineno}: field {text_field!r} should be a string; "
                        f"received {type(value).__name__}.")
    return value


def check_overlap(samples: Iterable[Sample], corpus: Sequence[str | os.PathLike[str]] |
                  Sequence[CorpusFile], *, n: int = DEFAULT_N, text_field: str = "text",
                  chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                  progress: Callable[[int], None] | None = None) -> OverlapReport:
    """How many of the items' n-grams occur in the corpus, per item and overall.

    Args:
        samples: the task's items.
        corpus: files or directories (or the ``corpus_files`` already listed and checked).
        n: the n-gram size (13, as lm-eval and GPT-3).
        text_field: the field holding the text in ``.jsonl`` files.
        chunk_bytes: how much of a ``.txt`` file is read at a time.
        progress: called with the number of (compressed) corpus bytes read since last call.

    Raises:
        ConfigError, DataError: bad corpus paths or files (see ``corpus_files``), before any
            n-gram is computed; a file that turns out not to be UTF-8 later on.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"Expected the n-gram size n to be an integer >= 1; received {n!r}.")
    if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int) or chunk_bytes < 1:
        raise ConfigError(f"Expected chunk_bytes to be an integer >= 1; received "
                          f"{chunk_bytes!r}.")
    files = (list(corpus) if corpus and all(isinstance(c, CorpusFile) for c in corpus)
             else corpus_files(corpus))  # type: ignore[arg-type]
    index = _build_index(samples, n)
    tick = progress or (lambda _: None)
    for f in files:
        assert isinstance(f, CorpusFile)
        _stream(f, index, chunk_bytes, text_field, tick)
    items = []
    for i, item_id in enumerate(index.ids):
        size, got, first = index.sizes[i], len(index.found[i]), index.first[i]
        items.append(ItemOverlap(item_id, size, got, got / size if size else math.nan,
                                 first[0] if first else None, first[1] if first else None))
    checked = [it for it in items if it.n_ngrams]
    rate = wilson_ci(sum(it.contaminated for it in checked), len(checked))
    return OverlapReport(n, tuple(items), rate, len(items) - len(checked), len(files),
                         sum(f.size for f in files if isinstance(f, CorpusFile)))

