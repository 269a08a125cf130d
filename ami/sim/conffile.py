"""The simulator's configuration files as UpdateConfig edits them: categories, templates, settings.

Only what the dialer writes is modelled: the dialer-owned queue file (`ami.dialplan.QUEUE_FILE`,
the `dialer-campaign` template and one category per queue) and queues.conf. Like a file on
disk, it outlives a simulated Asterisk restart. Error texts are Asterisk 22's
(tests/ami/captures/04-queue-config.txt).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ami import dialplan

# What [dialer-campaign](!) in asterisk-conf/queues_dialer.conf sets that the simulator reads.
TEMPLATE_SETTINGS = (("strategy", "leastrecent"), ("wrapuptime", "0"), ("maxlen", "0"),
                     ("joinempty", "yes"), ("ringinuse", "no"), ("servicelevel", "2"))


class UpdateRefused(Exception):
    """An UpdateConfig Asterisk refuses as a whole; the message is Asterisk's."""


@dataclass
class Category:
    name: str
    template: bool = False
    inherits: list[str] = field(default_factory=list)
    # settings in file order; a template's are copied in when it is inherited (as Asterisk
    # does), so an Update of an inherited one succeeds and overrides it
    settings: list[tuple[str, str]] = field(default_factory=list)

    def get(self, var: str) -> str | None:
        found = [v for k, v in self.settings if k == var]
        return found[-1] if found else None


@dataclass
class ConfFile:
    categories: list[Category] = field(default_factory=list)

    def find(self, name: str, *, templates: bool = True) -> Category | None:
        for cat in self.categories:
            if cat.name == name and (templates or not cat.template):
                return cat
        return None

    def queues(self) -> list[Category]:
        return [c for c in self.categories if not c.template and c.name != "general"]


class ConfFiles:
    """The files an UpdateConfig may name (a name not here does not exist in the config
    directory: "File requires escalated privileges")."""

    def __init__(self, queues: tuple[str, ...]) -> None:
        template = Category(dialplan.QUEUE_TEMPLATE, template=True, settings=list(TEMPLATE_SETTINGS))
        queue_file = ConfFile([template])
        for name in queues:
            queue_file.categories.append(_instance(name, [template]))
        self.files: dict[str, ConfFile] = {
            "queues.conf": ConfFile([Category("general", settings=[("persistentmembers", "no")])]),
            dialplan.QUEUE_FILE: queue_file,
        }

    @property
    def queue_file(self) -> ConfFile:
        return self.files[dialplan.QUEUE_FILE]

    def update(self, src: str, dst: str, changes: list[dict[str, str]]) -> None:
        """Apply every change or none (Asterisk saves only when all succeeded)."""
        if not src or not dst:
            raise UpdateRefused("Filename not specified")
        if src not in self.files or dst not in self.files:
            raise UpdateRefused("File requires escalated privileges")
        work = copy.deepcopy(self.files[src])
        for change in changes:
            _apply(work, change)
        self.files[dst] = work


def _instance(name: str, templates: list[Category]) -> Category:
    cat = Category(name, inherits=[t.name for t in templates])
    for template in templates:
        cat.settings.extend(template.settings)
    return cat


def _options(text: str) -> tuple[list[str], bool]:
    """NewCat options: (templates to inherit, is a template)."""
    inherit: list[str] = []
    template = False
    rest = text
    while rest:
        rest = rest.strip().lstrip(",")
        if rest.startswith("inherit="):
            value = rest[len("inherit="):]
            if value.startswith('"'):
                quoted, _, rest = value[1:].partition('"')
            else:
                quoted, _, rest = value.partition(",")
            inherit += [t.strip() for t in quoted.split(",") if t.strip()]
            continue
        word, _, rest = rest.partition(",")
        template = template or word.strip() == "template"
    return inherit, template


def _apply(work: ConfFile, change: dict[str, str]) -> None:
    action = change.get("action", "").lower()
    name, var, value = change.get("cat", ""), change.get("var", ""), change.get("value", "")
    if action == "newcat":
        inherit, template = _options(change.get("options", ""))
        if work.find(name) is not None and "allowdups" not in change.get("options", ""):
            raise UpdateRefused("Create category did not complete successfully")
        templates = []
        for tname in inherit:
            found = next((c for c in work.categories if c.name == tname and c.template), None)
            if found is None:
                raise UpdateRefused("Template category not found")
            templates.append(found)
        cat = _instance(name, templates)
        cat.template = template
        work.categories.append(cat)
        return
    found_cat = work.find(name, templates=False)
    if found_cat is None:
        raise UpdateRefused("Given category does not exist")
    cat = found_cat
    if action == "update":
        if cat.get(var) is None:
            raise UpdateRefused("Update did not complete successfully")
        cat.settings = [(k, value if k == var else v) for k, v in cat.settings]
    elif action == "append":
        cat.settings.append((var, value))
    elif action == "delete":
        if cat.get(var) is None:
            raise UpdateRefused("Delete did not complete successfully")
        cat.settings = [(k, v) for k, v in cat.settings if k != var]
    elif action == "delcat":
        work.categories.remove(cat)
    else:
        raise UpdateRefused("Unknown action command")
