"""The broker's password file: one MQTT login per agent desktop (`dialer agents mqtt-passwords`).

Each desktop logs in with its agent id as username, and the broker's ACL
(deploy/mosquitto/acl, `%u` patterns) keeps it on its own topics. This module writes the
Mosquitto password file from the agents table: an active agent without a login gets a
random password (returned once, to be handed to the agent; only its hash is stored), an
agent marked inactive loses his, and every other line (the engine's login, a CRM's, an
agent's existing password) is kept as it is. Hashes are Mosquitto 2's own format
(`$7$`: PBKDF2-SHA512, as `mosquitto_passwd` writes them), so either tool can edit the file.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import tempfile
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from dialer.agents import queries
from dialer.db.database import Database
from dialer.errors import UserError

ITERATIONS = 101  # mosquitto_passwd's default for $7$
_SALT_BYTES = 12
_HASH_BYTES = 64


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The `$7$...` hash Mosquitto checks a login against."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, _HASH_BYTES)
    return f"$7${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def read_password_file(path: Path) -> dict[str, str]:
    """username -> hash, in the file's order; an absent file is empty. A line Mosquitto
    would not read is refused (the file is left as it is)."""
    if not path.exists():
        return {}
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user or not hashed.startswith("$"):
            raise UserError(f"{path}:{number} is not a 'user:hash' line of a Mosquitto password file")
        entries[user] = hashed
    return entries


@dataclass
class LoginChanges:
    """What a run changed: new passwords in clear (shown once), logins removed."""

    entries: dict[str, str] = field(default_factory=dict)
    new_passwords: dict[str, str] = field(default_factory=dict, repr=False)
    removed: list[str] = field(default_factory=list)
    engine_login: str | None = None


def plan_logins(
    existing: dict[str, str],
    agents: dict[str, bool],
    *,
    reset: AbstractSet[str] = frozenset(),
    engine_login: tuple[str, str] | None = None,
) -> LoginChanges:
    """The new file from the old one and the agents table (`agent id -> active`)."""
    unknown = sorted(reset - set(agents))
    if unknown:
        raise UserError(f"no agent {', '.join(unknown)} (see `dialer agents list`)")
    inactive = sorted(a for a in reset if not agents[a])
    if inactive:
        raise UserError(f"agent {', '.join(inactive)} is inactive: no MQTT login to reset")
    changes = LoginChanges()
    for user, hashed in existing.items():
        if user in agents and not agents[user]:
            changes.removed.append(user)  # an agent who left: his desktop can no longer log in
        elif user not in reset:
            changes.entries[user] = hashed
    if engine_login is not None:
        user, password = engine_login
        if user in agents:
            raise UserError(f"the engine's MQTT user {user!r} is also an agent id: give the engine its own user")
        changes.entries[user] = hash_password(password)
        changes.engine_login = user
    for agent_id in sorted(agents):
        if agents[agent_id] and agent_id not in changes.entries:
            password = secrets.token_urlsafe(12)
            changes.entries[agent_id] = hash_password(password)
            changes.new_passwords[agent_id] = password
    return changes


def write_password_file(path: Path, entries: dict[str, str]) -> None:
    """Replace the file in one step (readable by its owner only: it holds password hashes)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.writelines(f"{user}:{hashed}\n" for user, hashed in entries.items())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def make_password_file(
    db: Database, path: Path, *, reset: AbstractSet[str] = frozenset(),
    engine_login: tuple[str, str] | None = None,
) -> LoginChanges:
    """Bring the password file at `path` in line with the agents table."""
    if not path.parent.is_dir():
        raise UserError(f"{path.parent} is not a directory")
    existing = read_password_file(path)
    async with db.transaction() as tx:
        agents = {row.id: bool(row.active) for row in await tx.execute(text(queries.AGENTS_FOR_LOGINS))}
    changes = plan_logins(existing, agents, reset=reset, engine_login=engine_login)
    write_password_file(path, changes.entries)
    return changes
