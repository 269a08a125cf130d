"""The dialer's handle on PostgreSQL: one AsyncEngine, and raw asyncpg for bulk COPY and cursors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dialer.db.connection import DatabaseUnavailable, make_engine, redact
from dialer.db.migrate import check_schema


class Database:
    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = url
        self.engine: AsyncEngine = make_engine(url, pool_size=pool_size)

    async def close(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def check_reachable(self) -> None:
        try:
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
        except (OSError, asyncpg.PostgresError, Exception) as exc:
            if isinstance(exc, DatabaseUnavailable):
                raise
            raise DatabaseUnavailable(
                f"cannot reach PostgreSQL at {redact(self.url)}: {_first_line(exc)}"
            ) from exc

    async def check_schema(self) -> None:
        await self.check_reachable()
        await check_schema(self.engine)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def raw_transaction(self) -> AsyncIterator[Any]:
        """An asyncpg connection inside a transaction: only for bulk COPY and server-side cursors."""
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            async with driver.transaction():
                yield driver


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
