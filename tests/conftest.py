"""Shared fixtures: a real PostgreSQL for every test that needs one.

`DIALER_TEST_DATABASE_URL` names a server (CI points it at the local PostgreSQL); without
it an embedded PostgreSQL starts in a temporary directory. The schema is migrated once
into a template database; each test gets its own database cloned from it, so tests are
isolated even when the code under test commits from several connections or processes.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from dialer.db import migrate
from dialer.db.database import Database

T = TypeVar("T")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def in_thread(fn: Callable[[], T]) -> T:
    """Run blocking work that starts its own event loop (asyncio.run, alembic) off the test
    loop's thread, so it never disturbs the loop pytest-asyncio keeps for the session."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def _admin(url: str, *statements: str) -> None:
    async def work() -> None:
        conn = await asyncpg.connect(url)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    in_thread(lambda: asyncio.run(work()))


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DIALER_TEST_DATABASE_URL")
    if url:
        return url
    from dialer.db.connection import start_embedded

    return in_thread(lambda: start_embedded(Path(tmp_path_factory.mktemp("embedded-pg"))))


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> Iterator[str]:
    name = f"dialer_tpl_{os.getpid()}"
    _admin(pg_server_url, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
    in_thread(lambda: migrate.upgrade(_with_database(pg_server_url, name)))
    yield name
    _admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def database_url(pg_server_url: str, template_database: str) -> Iterator[str]:
    """A fresh, migrated, empty database for this test."""
    name = f"dialer_t_{uuid.uuid4().hex[:12]}"
    _admin(pg_server_url, f"CREATE DATABASE {name} TEMPLATE {template_database}")
    yield _with_database(pg_server_url, name)
    _admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def empty_database_url(pg_server_url: str) -> Iterator[str]:
    """A database with no schema at all."""
    name = f"dialer_e_{uuid.uuid4().hex[:12]}"
    _admin(pg_server_url, f"CREATE DATABASE {name}")
    yield _with_database(pg_server_url, name)
    _admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.close()
