"""A dataset held in memory, for tasks written in Python."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator

from evalstack.core.types import Sample
from evalstack.datasets.record import sample_to_json


class MemoryDataset:
    """A list of samples with a content fingerprint.

    Examples:
        >>> ds = MemoryDataset("tiny", [Sample("1", "2+2=", "4")])
        >>> len(ds), len(ds.fingerprint())
        (1, 64)
    """

    def __init__(
        self, name: str, samples: Iterable[Sample], fingerprint: str | None = None
    ) -> None:
        """``fingerprint`` may be given (say, the sha256 of the files the samples came from);
        otherwise it is computed from the samples' content."""
        self.name = name
        self._samples = list(samples)
        self._fingerprint = fingerprint

    def __iter__(self) -> Iterator[Sample]:
        return iter(self._samples)

    def __len__(self) -> int:
        return len(self._samples)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            h = hashlib.sha256()
            for s in self._samples:
                h.update(json.dumps(sample_to_json(s), sort_keys=True).encode("utf-8"))
                h.update(b"\n")
            self._fingerprint = h.hexdigest()
        return self._fingerprint
