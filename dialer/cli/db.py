"""`dialer db ...`: schema migrations."""

from __future__ import annotations

import asyncio

import typer

from dialer.cli.common import console, run, settings
from dialer.db import migrate
from dialer.db.connection import database_url, redact
from dialer.db.database import Database

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Apply schema migrations (safe to run again)."""

    async def main() -> tuple[str | None, str | None]:
        url = database_url(settings())
        db = Database(url)
        try:
            await db.check_reachable()
            before = await migrate.current_revision(db.engine)
        finally:
            await db.close()
        # alembic runs its own event loop: keep it off this one.
        await asyncio.to_thread(migrate.upgrade, url, revision)
        db = Database(url)
        try:
            after = await migrate.current_revision(db.engine)
        finally:
            await db.close()
        console.print(f"database {redact(url)}")
        return before, after

    before, after = run(main)
    if before == after:
        console.print(f"schema already at {after}")
    else:
        console.print(f"schema upgraded from {before or 'empty'} to {after}")


@db_app.command("status")
def status() -> None:
    """Show the schema revision of the database and the one this dialer needs."""

    async def main() -> str | None:
        db = Database(database_url(settings()))
        try:
            await db.check_reachable()
            return await migrate.current_revision(db.engine)
        finally:
            await db.close()

    current = run(main)
    head = migrate.head_revision()
    state = "up to date" if current == head else "out of date: run `dialer db upgrade`"
    console.print(f"schema {current or 'empty'}; this dialer needs {head} ({state})")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
