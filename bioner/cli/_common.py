"""What every command shares: consoles, the error boundary, report printing, progress."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bioner.errors import BionerError, Report

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

EXIT_DATA_ERROR = 2  # a BionerError: bad input, unknown format or corpus, missing file
PROGRESS_AFTER = 1.0  # seconds of reading before a progress bar is worth showing
SHOW_ISSUES = 5  # first issues printed in full; the counts per code are always complete


def out() -> Console:
    """stdout console; made per call so test runners that swap sys.stdout are honoured."""
    return Console(file=sys.stdout)


def err() -> Console:
    return Console(file=sys.stderr, stderr=True)


def print_error(exc: BionerError) -> None:
    # soft_wrap: the "file:line" must stay on one line for editors and grep
    err().print(str(exc), style="red", markup=False, highlight=False, soft_wrap=True)


def handles_errors(fn: F) -> F:
    """Turn a BionerError into a red one-line message on stderr and exit code 2; other errors propagate."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BionerError as exc:
            print_error(exc)
            raise typer.Exit(EXIT_DATA_ERROR) from None

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    """Plain JSON on stdout, nothing else there: meant for pipes and scripts."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def print_report(report: Report, *, what: str = "") -> None:
    """Every skipped record and dropped entity, with counts, on stderr (stdout may hold JSON)."""
    if not report:
        return
    console = err()
    head = f"{what}: " if what else ""
    skipped = f"{report.skipped} invalid record(s) skipped" if report.skipped else "no invalid records"
    console.print(f"{head}{skipped}; issues by code:", style="yellow", markup=False, highlight=False, soft_wrap=True)
    for line in report.summary():
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    shown = report.issues[:SHOW_ISSUES]
    for issue in shown:
        console.print(f"  {issue}", style="dim", markup=False, highlight=False, soft_wrap=True)
    if len(report.issues) > len(shown):
        console.print(f"  ... and {len(report.issues) - len(shown)} more", style="dim", markup=False, highlight=False)


QUANTIZE_HELP = "int8: int8 encoder on the CPU, about 2x faster (F1 cost in the model card; scores then depend slightly on batching); none: float32."


def parse_quantize(value: str) -> str | None:
    """The ``--quantize`` option: ``int8`` or ``none``."""
    if value not in ("int8", "none"):
        raise typer.BadParameter(f"--quantize must be int8 or none, got {value!r}")
    return None if value == "none" else value


def parse_labels(labels: str | None) -> list[str] | None:
    """``"Disease,Chemical"`` -> ``["Disease", "Chemical"]``; None or empty -> None (all types)."""
    if not labels:
        return None
    found = [x.strip() for x in labels.split(",") if x.strip()]
    return found or None


def _interactive() -> bool:
    return sys.stderr.isatty()


def track(items: Iterable[T], description: str) -> Iterator[T]:
    """Yield ``items``; on a terminal, show a transient counter on stderr once reading takes over a second."""
    if not _interactive():
        yield from items
        return
    start = time.monotonic()
    progress: Progress | None = None
    task = None
    n = 0
    try:
        for item in items:
            n += 1
            if progress is None and time.monotonic() - start > PROGRESS_AFTER:
                progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed} documents"),
                                    TimeElapsedColumn(), console=err(), transient=True)
                progress.start()
                task = progress.add_task(description, completed=n)
            if progress is not None and task is not None:
                progress.update(task, completed=n)
            yield item
    finally:
        if progress is not None:
            progress.stop()


@contextlib.contextmanager
def status(description: str) -> Iterator[None]:
    """A transient spinner on stderr while a whole corpus is loaded (terminals only)."""
    if not _interactive():
        yield
        return
    with err().status(description):
        yield


class Counted:
    """Passes documents through while counting them and their entities (for the summary line)."""

    def __init__(self, docs: Iterable[Any]) -> None:
        self._docs = docs
        self.documents = 0
        self.entities = 0

    def __iter__(self) -> Iterator[Any]:
        for doc in self._docs:
            self.documents += 1
            self.entities += len(doc.entities)
            yield doc
