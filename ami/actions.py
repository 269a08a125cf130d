"""Action builders: plain data that `AMIClient.send` turns into bytes.

Each builder returns an `Action` (name + ordered headers, repeats allowed). The client
adds the ActionID. List actions (``EventList: start`` … ``<X>Complete``) carry the name
of their completion event in ``complete_event``.

Originate ``Timeout`` is plain milliseconds: Asterisk reads ``30s`` as 30 ms.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    headers: tuple[tuple[str, str], ...] = ()
    #: completion event of a list action (e.g. "CoreShowChannelsComplete"), else None
    complete_event: str | None = None

    def pairs(self, action_id: str) -> list[tuple[str, str]]:
        return [("Action", self.name), ("ActionID", action_id), *self.headers]


def _bool(value: bool) -> str:
    return "true" if value else "false"


def login(username: str, secret: str, events: str = "on") -> Action:
    return Action("Login", (("Username", username), ("Secret", secret), ("Events", events)))


def challenge() -> Action:
    return Action("Challenge", (("AuthType", "MD5"),))


def login_md5(username: str, secret: str, challenge_value: str, events: str = "on") -> Action:
    key = hashlib.md5((challenge_value + secret).encode("utf-8")).hexdigest()
    return Action("Login", (("AuthType", "MD5"), ("Username", username), ("Key", key),
                            ("Events", events)))


def logoff() -> Action:
    return Action("Logoff")


def ping() -> Action:
    return Action("Ping")


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    """What to dial and where to send the answered call.

    ``timeout_ms``: ring timeout in milliseconds. ``channel_id``: our attempt id; it becomes
    the Uniqueid/Linkedid of the call (use `ami.ids.new_channel_id`). ``other_channel_id``
    defaults to ``<channel_id>-2`` (the Local ``;2`` half).
    """

    channel: str
    channel_id: str
    context: str | None = None
    exten: str | None = None
    priority: str = "1"
    application: str | None = None
    data: str | None = None
    timeout_ms: int = 30000
    caller_id: str | None = None
    account: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    other_channel_id: str | None = None
    codecs: str | None = None


def originate(req: OriginateRequest) -> Action:
    if req.timeout_ms <= 0:
        raise ValueError("timeout_ms must be a positive number of milliseconds")
    h: list[tuple[str, str]] = [("Channel", req.channel)]
    if req.application:
        h.append(("Application", req.application))
        if req.data is not None:
            h.append(("Data", req.data))
    else:
        if not (req.context and req.exten):
            raise ValueError("originate needs context+exten or application")
        h += [("Context", req.context), ("Exten", req.exten), ("Priority", req.priority)]
    h.append(("Timeout", str(int(req.timeout_ms))))
    if req.caller_id:
        h.append(("CallerID", req.caller_id))
    h.append(("Async", "true"))
    h.append(("ChannelId", req.channel_id))
    h.append(("OtherChannelId", req.other_channel_id or f"{req.channel_id}-2"))
    if req.account:
        h.append(("Account", req.account))
    if req.codecs:
        h.append(("Codecs", req.codecs))
    for k, v in req.variables.items():
        h.append(("Variable", f"{k}={v}"))
    return Action("Originate", tuple(h))


def hangup(channel: str, cause: int | None = None) -> Action:
    h = [("Channel", channel)]
    if cause is not None:
        h.append(("Cause", str(cause)))
    return Action("Hangup", tuple(h))


def redirect(channel: str, context: str, exten: str, priority: str = "1") -> Action:
    return Action("Redirect", (("Channel", channel), ("Context", context), ("Exten", exten),
                               ("Priority", priority)))


def queue_add(queue: str, interface: str, member_name: str | None = None,
              state_interface: str | None = None, penalty: int = 0,
              paused: bool = False, reason: str | None = None) -> Action:
    h = [("Queue", queue), ("Interface", interface)]
    if member_name:
        h.append(("MemberName", member_name))
    if state_interface:
        h.append(("StateInterface", state_interface))
    h += [("Penalty", str(penalty)), ("Paused", _bool(paused))]
    if reason:
        h.append(("Reason", reason))
    return Action("QueueAdd", tuple(h))


def queue_remove(queue: str, interface: str) -> Action:
    return Action("QueueRemove", (("Queue", queue), ("Interface", interface)))


def queue_pause(interface: str, paused: bool, queue: str | None = None,
                reason: str | None = None) -> Action:
    h: list[tuple[str, str]] = []
    if queue:
        h.append(("Queue", queue))
    h += [("Interface", interface), ("Paused", _bool(paused))]
    if reason:
        h.append(("Reason", reason))
    return Action("QueuePause", tuple(h))


def core_show_channels() -> Action:
    return Action("CoreShowChannels", (), "CoreShowChannelsComplete")


def queue_status(queue: str | None = None, member: str | None = None) -> Action:
    h: list[tuple[str, str]] = []
    if queue:
        h.append(("Queue", queue))
    if member:
        h.append(("Member", member))
    return Action("QueueStatus", tuple(h), "QueueStatusComplete")


def queue_summary(queue: str | None = None) -> Action:
    return Action("QueueSummary", (("Queue", queue),) if queue else (), "QueueSummaryComplete")


def agents() -> Action:
    return Action("Agents", (), "AgentsComplete")


def status(channel: str | None = None) -> Action:
    return Action("Status", (("Channel", channel),) if channel else (), "StatusComplete")


def agent_logoff(agent: str, soft: bool = False) -> Action:
    h = [("Agent", agent)]
    if soft:
        h.append(("Soft", "true"))
    return Action("AgentLogoff", tuple(h))


def user_event(name: str, headers: Iterable[tuple[str, str]] = ()) -> Action:
    return Action("UserEvent", (("UserEvent", name), *headers))


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """One numbered change of an UpdateConfig: ``NewCat``, ``Update``, ``Append``, ``Delete``,
    ``DelCat`` … on category ``cat`` (``options`` e.g. ``inherit="dialer-campaign"``)."""

    action: str
    cat: str
    var: str | None = None
    value: str | None = None
    options: str | None = None


def update_config(filename: str, changes: Iterable[ConfigChange], reload: str | None = None) -> Action:
    """Edit one configuration file in place (needs the ``config`` write class). Asterisk
    applies every change or none; ``reload`` names a module to reload afterwards."""
    h: list[tuple[str, str]] = [("SrcFilename", filename), ("DstFilename", filename)]
    if reload:
        h.append(("Reload", reload))
    for n, change in enumerate(changes):
        key = f"{n:06d}"
        h += [(f"Action-{key}", change.action), (f"Cat-{key}", change.cat)]
        if change.var is not None:
            h.append((f"Var-{key}", change.var))
        if change.value is not None:
            h.append((f"Value-{key}", change.value))
        if change.options is not None:
            h.append((f"Options-{key}", change.options))
    return Action("UpdateConfig", tuple(h))


def queue_reload(queue: str | None = None, *, parameters: bool = True, members: bool = False,
                 rules: bool = False) -> Action:
    """Reload app_queue's configuration of one queue (all when None): a queue new in the
    file is created, a changed setting applied; dynamic members stay. Needs no write class."""
    h: list[tuple[str, str]] = [("Queue", queue)] if queue else []
    # Only the parts asked for, each as "yes" (what was captured: 04-queue-config.txt).
    h += [(name, "yes") for name, wanted in (("Members", members), ("Rules", rules),
                                             ("Parameters", parameters)) if wanted]
    return Action("QueueReload", tuple(h))


def reload(module: str | None = None) -> Action:
    return Action("Reload", (("Module", module),) if module else ())


def core_status() -> Action:
    return Action("CoreStatus")
