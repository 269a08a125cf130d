"""The simulator's configuration actions: UpdateConfig, QueueReload and Reload, as Asterisk 22
answers them (tests/ami/captures/04-queue-config.txt)."""

from __future__ import annotations

import re

from ami.sim.actions import Handler
from ami.sim.conffile import UpdateRefused
from ami.sim.core import PbxCore
from ami.sim.queues import AgentPool
from ami.sim.transport import Session

_NUMBERED = re.compile(r"^(action|cat|var|value|match|line|options)-(\d{6})$")
# Modules a Reload may name on the rig (anything else: "No such module").
KNOWN_MODULES = frozenset({"app_queue", "app_agent_pool", "chan_pjsip", "res_pjsip", "pbx_config",
                           "app_amd", "res_musiconhold", "manager"})


class ConfigActions:
    """UpdateConfig (write class `config`), QueueReload (no class) and Reload."""

    def __init__(self, core: PbxCore, pool: AgentPool) -> None:
        self._core = core
        self._pool = pool

    def handlers(self) -> dict[str, Handler]:
        return {"updateconfig": self.updateconfig, "queuereload": self.queuereload, "reload": self.reload}

    def updateconfig(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                     h: list[tuple[str, str]]) -> None:
        out = self._core.out
        if not self._core.config.config_write:
            out.err(sess, aid, "Permission denied")
            return
        changes: dict[str, dict[str, str]] = {}
        for key, value in h:
            match = _NUMBERED.match(key.lower())
            if match:
                changes.setdefault(match[2], {}).setdefault(match[1], value)
        try:
            self._pool.conf.update(m.get("srcfilename", ""), m.get("dstfilename", ""),
                                   [changes[n] for n in sorted(changes)])
        except UpdateRefused as exc:
            out.err(sess, aid, str(exc))
            return
        out.ok(sess, aid)  # a bare Success, no Message
        module = m.get("reload", "")
        if _module(module) == "app_queue" or module.lower() in ("yes", "true", "1"):
            self._pool.load_queues()

    def queuereload(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                    h: list[tuple[str, str]]) -> None:
        # Success for any queue name, also one in no file.
        self._pool.load_queues(m.get("queue") or None)
        self._core.out.ok(sess, aid, "Queue reloaded successfully")

    def reload(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
               h: list[tuple[str, str]]) -> None:
        core = self._core
        if not core.config.config_write:  # Reload needs `system` or `config`
            core.out.err(sess, aid, "Permission denied")
            return
        module = m.get("module", "")
        if module and _module(module) not in KNOWN_MODULES:
            core.out.err(sess, aid, "No such module")
            core.emit("Reload", "system,all", f"Module: {module}\r\nStatus: 2\r\n")
            return
        if not module or _module(module) == "app_queue":
            self._pool.load_queues()
        core.out.ok(sess, aid, "Module Reloaded")
        if module:
            core.emit("Reload", "system,all", f"Module: {module}\r\nStatus: 0\r\n")


def _module(name: str) -> str:
    name = name.strip().lower()
    return name[:-3] if name.endswith(".so") else name
