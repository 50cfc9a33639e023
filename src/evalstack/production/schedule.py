"""Work that ``evalstack serve`` repeats on a timer: sampled scoring and alert checks.

A ``Schedule`` runs its jobs one after another every ``interval`` seconds, in a thread of its
own with its own event loop, so the web server's loop never waits on a judge. A job that
fails is reported through ``report`` and tried again at the next tick; it never stops the
others or the server. ``stop`` ends the thread after the job in progress.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

Job = Callable[[], Coroutine[Any, Any, str]]


class Schedule:
    """Runs ``jobs`` every ``interval`` seconds until stopped.

    Args:
        interval: seconds from the start of one round to the start of the next.
        jobs: async functions returning a one-line summary of what they did.
        report: called with each summary, or with the error of a job that failed.
    """

    def __init__(self, interval: float, jobs: Sequence[Job],
                 report: Callable[[str], None] = print) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive; got {interval!r}")
        self.interval = interval
        self.jobs = list(jobs)
        self.report = report
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="evalstack-schedule",
                                        daemon=True)

    def start(self) -> Schedule:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            for job in self.jobs:
                if self._stop.is_set():
                    break
                try:
                    self.report(asyncio.run(job()))
                except Exception as exc:  # a failing job must not stop the server
                    self.report(f"scheduled job failed: {type(exc).__name__}: {exc}")
            self.rounds += 1
            self._stop.wait(self.interval)
