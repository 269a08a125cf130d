"""MQTT topic names: the contract with agent desktops and CRMs (documented in README).

Out (the engine publishes, QoS 1, JSON):
  dialer/<engine_id>/calls/<campaign>      call events: originated, answered, connected, ended
  dialer/<engine_id>/agents/<agent_id>     agent events (retained: the agent's current state)
  dialer/<engine_id>/campaigns/<campaign>  campaign state and figures (retained)
  dialer/agents/<agent_id>/screenpop       the contact's fields and the script, to the agent
                                           who got the call
  dialer/agents/<agent_id>/offer           a preview offer to the agent (contact's fields, script,
                                           expiry) and its changes (more time, decided)
  dialer/agents/<agent_id>/errors          a rejected disposition or preview answer, with the reason
  dialer/agents/<agent_id>/acks            a disposition or preview answer that was applied

In (agent desktops publish, QoS 1, JSON):
  dialer/agents/<agent_id>/disposition     {"attempt_id", "code", "callback_at"?, "note"?}
  dialer/agents/<agent_id>/preview         {"offer_id", "action": "accept" | "skip" | "more_time"}
                                           (only the agent the offer was made to)

Per-agent topics carry no engine id: a desktop does not know which engine dialled its
call, and any engine sharing the database can apply the disposition.
"""

from __future__ import annotations

ROOT = "dialer"
AGENTS = f"{ROOT}/agents"

# Engines subscribe to this (as a shared subscription, so one engine handles each).
DISPOSITION_FILTER = f"{AGENTS}/+/disposition"
PREVIEW_FILTER = f"{AGENTS}/+/preview"


class TopicError(ValueError):
    """A topic segment would break the topic tree (contains '/', '+', '#' or is empty)."""


def segment(value: str) -> str:
    """A value usable as one topic level: not empty, no separators or wildcards."""
    if not value or any(ch in value for ch in "/+#\0"):
        raise TopicError(f"{value!r} cannot be an MQTT topic level")
    return value


def calls(engine_id: str, campaign: str) -> str:
    return f"{ROOT}/{segment(engine_id)}/calls/{segment(campaign)}"


def agent_events(engine_id: str, agent_id: str) -> str:
    return f"{ROOT}/{segment(engine_id)}/agents/{segment(agent_id)}"


def campaign_state(engine_id: str, campaign: str) -> str:
    return f"{ROOT}/{segment(engine_id)}/campaigns/{segment(campaign)}"


def screenpop(agent_id: str) -> str:
    return f"{AGENTS}/{segment(agent_id)}/screenpop"


def disposition(agent_id: str) -> str:
    return f"{AGENTS}/{segment(agent_id)}/disposition"


def errors(agent_id: str) -> str:
    return f"{AGENTS}/{segment(agent_id)}/errors"


def acks(agent_id: str) -> str:
    return f"{AGENTS}/{segment(agent_id)}/acks"


def offer(agent_id: str) -> str:
    return f"{AGENTS}/{segment(agent_id)}/offer"


def preview(agent_id: str) -> str:
    return f"{AGENTS}/{segment(agent_id)}/preview"


def agent_of_disposition(topic: str) -> str | None:
    """`dialer/agents/1001/disposition` -> `1001`; any other topic -> None."""
    return _agent_of(topic, "disposition")


def agent_of_preview(topic: str) -> str | None:
    """`dialer/agents/1001/preview` -> `1001`; any other topic -> None."""
    return _agent_of(topic, "preview")


def _agent_of(topic: str, leaf: str) -> str | None:
    parts = topic.split("/")
    if len(parts) == 4 and parts[0] == ROOT and parts[1] == "agents" and parts[3] == leaf:
        return parts[2] or None
    return None


def shared(filter_: str, group: str | None) -> str:
    """A shared subscription (`$share/<group>/<filter>`): each message goes to one engine."""
    return f"$share/{segment(group)}/{filter_}" if group else filter_
