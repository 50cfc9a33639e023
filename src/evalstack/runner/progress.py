"""Progress reporting: a rich bar with done/total, rate, ETA, errors and cost so far."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from evalstack.core.text import visible

if TYPE_CHECKING:
    from rich.progress import TaskID


class ProgressSink(Protocol):
    def start(self, description: str, total: int, completed: int) -> None: ...

    def advance(self, errors: int, cost: float) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    """Reports nothing (library use, ``--json`` without a terminal, tests)."""

    def start(self, description: str, total: int, completed: int) -> None:
        return None

    def advance(self, errors: int, cost: float) -> None:
        return None

    def finish(self) -> None:
        return None


class RichProgress:
    """A rich progress bar on stderr, refreshed a few times a second."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            # the description names the task and model, which may come from data: no markup
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("errors {task.fields[errors]}"),
            TextColumn("${task.fields[cost]:.4f}"),
            console=console or Console(stderr=True),
            refresh_per_second=4,
            transient=False,
        )
        self._task: TaskID | None = None
        self._started = False

    def start(self, description: str, total: int, completed: int) -> None:
        if not self._started:
            self._progress.start()
            self._started = True
        self._task = self._progress.add_task(
            visible(description, layout=False), total=total, completed=completed, errors=0,
            cost=0.0, rate="",
        )

    def advance(self, errors: int, cost: float) -> None:
        if self._task is None:
            return
        task = self._progress._tasks[self._task]
        speed = task.speed
        rate = f"{speed:.1f}/s" if speed else ""
        self._progress.update(self._task, advance=1, errors=errors, cost=cost, rate=rate)

    def finish(self) -> None:
        if self._started:
            self._progress.stop()
            self._started = False
