"""How the simulator reads an AMI action: login, the refusals, and the small system actions."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable

from ami.sim.core import PbxCore
from ami.sim.transport import Session

SHUTTING_DOWN = "Asterisk is shutting down"

#: an action handler: (session, ActionID, headers by lower-case name, Variable items, raw headers)
Handler = Callable[[Session, str | None, dict[str, str], list[str], list[tuple[str, str]]], None]


def parse_callerid(value: str) -> tuple[str, str]:
    value = value.strip()
    if "<" in value and value.endswith(">"):
        name, _, num = value[:-1].rpartition("<")
        return num.strip(), name.strip().strip('"')
    return value, ""


def leading_int(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    digits = ""
    for ch in value.strip():
        if ch.isdigit():
            digits += ch
        else:
            break
    return int(digits) if digits else 0


class ActionRouter:
    """Answers Login/Challenge/Logoff itself and passes every other action to its handler.

    ``refuse_actions`` (fault injection): action name (lower case) -> the Error Message
    it is refused with.
    """

    def __init__(self, core: PbxCore, handlers: dict[str, Handler]) -> None:
        self._core = core
        self._handlers = handlers
        self.refuse_actions: dict[str, str] = {}

    async def on_action(self, sess: Session, headers: list[tuple[str, str]]) -> None:
        core, out = self._core, self._core.out
        m: dict[str, str] = {}
        variables: list[str] = []
        for k, v in headers:
            if k.lower() == "variable":
                variables.extend(x for x in v.split(",") if x)
            m.setdefault(k.lower(), v)
        aid = m.get("actionid")
        action = m.get("action")
        if action is None:
            out.err(sess, aid, "Missing action in request")
            return
        name = action.lower()
        core.stats.actions[name] += 1
        if core.shutting_down:
            out.err(sess, aid, SHUTTING_DOWN)
            return
        if name == "login":
            await self._login(sess, aid, m)
            return
        if name == "challenge":
            sess.challenge = str(core.rng.randint(100000000, 999999999))
            out.ok(sess, aid, None, f"Challenge: {sess.challenge}\r\n")
            return
        if name == "logoff":
            out.respond(sess, f"Response: Goodbye\r\nActionID: {aid}\r\n"
                              f"Message: Thanks for all the fish.\r\n\r\n")
            sess.closed = True
            sess.writer.close()
            return
        if not sess.authed:
            out.err(sess, aid, "Permission denied")
            return
        refusal = self.refuse_actions.get(name)
        if refusal is not None:
            out.err(sess, aid, refusal)
            return
        handler = self._handlers.get(name)
        if handler is None:
            out.err(sess, aid, f"Invalid/unknown command: {action}. Use Action: ListCommands "
                               f"to show available commands.")
            return
        handler(sess, aid, m, variables, headers)

    async def _login(self, sess: Session, aid: str | None, m: dict[str, str]) -> None:
        core, out = self._core, self._core.out
        if sess.authed:
            out.ok(sess, aid, "Already authenticated")
            return
        cfg = core.config
        user = m.get("username", "")
        ok = user == cfg.username
        if ok:
            if m.get("authtype", "").lower() == "md5":
                expected = hashlib.md5(((sess.challenge or "") + cfg.secret).encode()).hexdigest()
                ok = sess.challenge is not None and m.get("key", "").lower() == expected
            else:
                ok = m.get("secret", "") == cfg.secret
        if not ok:
            core.stats.failed_logins += 1
            await core.sleep(cfg.bad_login_delay)
            out.err(sess, aid, "Authentication failed")
            await asyncio.sleep(0.01)
            sess.closed = True
            sess.writer.close()
            return
        core.stats.logins += 1
        ev = m.get("events", "on").strip().lower()
        if ev in ("on", "yes", "all", "true", "1"):
            sess.classes = None
        elif ev in ("off", "no", "false", "0", ""):
            sess.classes = frozenset()
        else:
            sess.classes = frozenset(x.strip() for x in ev.split(","))
        out.ok(sess, aid, "Authentication accepted")
        sess.authed = True
        if sess.wants("system"):
            uptime = int(core.sim_elapsed(core.started_loop))
            sess.write((f"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: {uptime}\r\n"
                        f"LastReload: {uptime}\r\nStatus: Fully Booted\r\n\r\n").encode())


class SystemActions:
    """Ping, CoreStatus, CoreSettings and UserEvent."""

    def __init__(self, core: PbxCore) -> None:
        self._core = core

    def handlers(self) -> dict[str, Handler]:
        return {
            "ping": self.ping,
            "corestatus": self.corestatus,
            "coresettings": self.coresettings,
            "userevent": self.userevent,
        }

    def ping(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
             h: list[tuple[str, str]]) -> None:
        self._core.out.ok(sess, aid, None, f"Ping: Pong\r\nTimestamp: {time.time():.6f}\r\n")

    def corestatus(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                   h: list[tuple[str, str]]) -> None:
        started = time.gmtime(self._core.start_epoch)
        self._core.out.ok(sess, aid, None,
                          f"CoreStartupDate: {time.strftime('%Y-%m-%d', started)}\r\n"
                          f"CoreStartupTime: {time.strftime('%H:%M:%S', started)}\r\n"
                          f"CoreReloadDate: {time.strftime('%Y-%m-%d', started)}\r\n"
                          f"CoreReloadTime: {time.strftime('%H:%M:%S', started)}\r\n"
                          f"CoreCurrentCalls: {len(self._core.calls)}\r\n")

    def coresettings(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                     h: list[tuple[str, str]]) -> None:
        self._core.out.ok(sess, aid, None, "AMIversion: 11.0.0\r\nAsteriskVersion: 22.10.1\r\n"
                                           "SystemName: \r\nCoreMaxCalls: 0\r\n")

    def userevent(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                  h: list[tuple[str, str]]) -> None:
        body = f"UserEvent: {m.get('userevent', '')}\r\n"
        for k, val in h:
            if k.lower() not in ("action", "userevent"):
                body += f"{k}: {val}\r\n"
        self._core.emit("UserEvent", "user,all", body)
        self._core.out.ok(sess, aid, "Event Sent")
