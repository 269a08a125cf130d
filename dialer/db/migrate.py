"""Schema migrations: `dialer db upgrade`, and the check `dialer run` makes before starting."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.errors import UserError

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutOfDate(UserError):
    """The database is not at the schema this code needs."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("dialer.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None
    return head


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (blocking; runs its own event loop)."""
    command.upgrade(alembic_config(url), revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def check_schema(engine: AsyncEngine) -> None:
    """Raise SchemaOutOfDate, naming the command that fixes it, unless the schema is at head."""
    current = await current_revision(engine)
    head = head_revision()
    if current != head:
        found = current or "empty database"
        raise SchemaOutOfDate(
            f"database schema is at {found}, this dialer needs {head}: run `dialer db upgrade`"
        )
