"""A focused reader of Asterisk .conf files for the deployment tests.

Asterisk's config syntax: `[section]`, `[section](!)` (a template), `[section](tpl,...)`
(inherits), `key = value`, `key => value`, `same => ...`, `;` comments, `#include`.
This reads exactly that, rejects anything else, and models the dialplan enough to check
the contract in ami/dialplan.py: contexts, extensions with their priorities' apps and
arguments, and Asterisk's pattern matching (X, Z, N, [...], '.', '!').
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parents[2] / "asterisk-conf"

_SECTION = re.compile(r"^\[([^\]\s]+)\](?:\(([^)]*)\))?$")
_SETTING = re.compile(r"^([A-Za-z0-9_.+\-]+)\s*(=>|=)\s*(.*)$")


class ConfError(ValueError):
    pass


@dataclass
class Section:
    name: str
    template: bool
    inherits: list[str]
    line: int
    settings: list[tuple[str, str, int]] = field(default_factory=list)

    def get(self, key: str) -> list[str]:
        return [v for k, v, _ in self.settings if k == key]


def strip_comment(line: str) -> str:
    # ';' starts a comment unless escaped as '\;'
    out = []
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            out.append(line[i : i + 2])
            i += 2
            continue
        if ch == ";":
            break
        out.append(ch)
        i += 1
    return "".join(out).strip()


def parse(path: Path) -> list[Section]:
    sections: list[Section] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = strip_comment(raw)
        if not line:
            continue
        if line.startswith("#include") or line.startswith("#tryinclude"):
            continue
        m = _SECTION.match(line)
        if m:
            options = [o.strip() for o in (m[2] or "").split(",") if o.strip()]
            sections.append(Section(m[1], "!" in options, [o for o in options if o != "!"], number))
            continue
        m = _SETTING.match(line)
        if not m:
            raise ConfError(f"{path.name}:{number}: not a section or a setting: {raw!r}")
        if not sections:
            raise ConfError(f"{path.name}:{number}: setting before any section")
        if m[3] == "" and m[2] == "=>":
            raise ConfError(f"{path.name}:{number}: '=>' with nothing after it")
        sections[-1].settings.append((m[1], m[3].strip(), number))
    names = {s.name for s in sections}
    templates = {s.name for s in sections if s.template}
    for s in sections:
        for parent in s.inherits:
            if parent not in templates:
                raise ConfError(f"{path.name}:{s.line}: [{s.name}] inherits unknown template {parent!r}")
    del names
    return sections


# ---------------------------------------------------------------------------------------
# Dialplan


@dataclass
class Priority:
    number: int
    label: str | None
    app: str
    args: str
    line: int


@dataclass
class Extension:
    name: str
    priorities: list[Priority] = field(default_factory=list)

    @property
    def is_pattern(self) -> bool:
        return self.name.startswith("_")

    def matches(self, dialled: str) -> bool:
        return pattern_matches(self.name, dialled) if self.is_pattern else self.name == dialled


_APP = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\((.*)\)$|^([A-Za-z][A-Za-z0-9_]*)$")
_PRIORITY = re.compile(r"^(n|\d+)(?:\(([A-Za-z0-9_-]+)\))?$")


def dialplan(path: Path = CONF_DIR / "extensions.conf") -> dict[str, dict[str, Extension]]:
    """{context: {extension: Extension}} with numbered priorities."""
    contexts: dict[str, dict[str, Extension]] = {}
    for section in parse(path):
        if section.name in ("general", "globals"):
            continue
        exts = contexts.setdefault(section.name, {})
        current: Extension | None = None
        for key, value, line in section.settings:
            if key == "include":
                continue
            if key == "exten":
                name, prio, app = (p.strip() for p in value.split(",", 2))
                current = exts.setdefault(name, Extension(name))
            elif key == "same":
                if current is None:
                    raise ConfError(f"extensions.conf:{line}: 'same' before any exten")
                prio, app = (p.strip() for p in value.split(",", 1))
            else:
                raise ConfError(f"extensions.conf:{line}: unexpected {key!r} in a context")
            pm = _PRIORITY.match(prio)
            if not pm:
                raise ConfError(f"extensions.conf:{line}: bad priority {prio!r}")
            if pm[1] == "n":
                if not current.priorities:
                    raise ConfError(f"extensions.conf:{line}: priority n before priority 1")
                number = current.priorities[-1].number + 1
            else:
                number = int(pm[1])
            am = _APP.match(app)
            if not am:
                raise ConfError(f"extensions.conf:{line}: not an application call: {app!r}")
            current.priorities.append(Priority(number, pm[2], am[1] or am[3], am[2] or "", line))
    return contexts


def pattern_matches(pattern: str, dialled: str) -> bool:
    """Asterisk extension pattern semantics (the subset a dialplan needs)."""
    assert pattern.startswith("_")
    regex = []
    body = pattern[1:]
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "[":
            end = body.index("]", i)
            regex.append("[" + re.sub(r"[\\^]", r"\\\g<0>", body[i + 1 : end]) + "]")
            i = end + 1
            continue
        upper = ch.upper()
        if upper == "X":
            regex.append("[0-9]")
        elif upper == "Z":
            regex.append("[1-9]")
        elif upper == "N":
            regex.append("[2-9]")
        elif ch == ".":
            regex.append(".+")
        elif ch == "!":
            regex.append(".*")
        else:
            regex.append(re.escape(ch))
        i += 1
    return re.fullmatch("".join(regex), dialled) is not None


def letters_outside_brackets(pattern: str) -> str:
    """Letters of a pattern outside [...]: lowercase n, x, z there are wildcards by surprise."""
    out = re.sub(r"\[[^\]]*\]", "", pattern[1:])
    return "".join(ch for ch in out if ch.isalpha())


_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]*):")


def user_events(contexts: dict[str, dict[str, Extension]]) -> dict[str, list[tuple[str, list[str]]]]:
    """{event name: [(context, [header names])...]} for every UserEvent() in the dialplan."""
    found: dict[str, list[tuple[str, list[str]]]] = {}
    for context, exts in contexts.items():
        for ext in exts.values():
            for p in ext.priorities:
                if p.app != "UserEvent":
                    continue
                name, *headers = [part.strip() for part in p.args.split(",")]
                names = []
                for header in headers:
                    m = _HEADER.match(header)
                    if not m:
                        raise ConfError(f"extensions.conf:{p.line}: UserEvent header {header!r} is not 'Name: value'")
                    names.append(m[1])
                found.setdefault(name, []).append((context, names))
    return found
