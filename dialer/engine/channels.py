"""What Asterisk's channel list (CoreShowChannels) says about each of our attempts.

As a real Asterisk 22 lists them (tests/ami/captures/03-04, 03-06):
- the customer channel's Uniqueid is the attempt id; the Local `;2` half is `<id>-2`.
- ChannelState 6 (Up): answered. Application `Queue` with no BridgeId: waiting for an
  agent. Still `Queue` but with a BridgeId: talking; the agent is the other channel in that
  bridge: the agent's `AgentLogin` channel (ApplicationData `1001,s`) once the
  agent-request Local pair has optimised away, or `Local/1001@agent-request-…;1` before.
  The customer's Linkedid then becomes the agent softphone's, so it is not used here.
- Application `Read` in the connect context: the safe-harbour message after a queue
  timeout (the call was abandoned).
- Idle agents all sit in one holding bridge with no customer in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ami import dialplan
from ami.protocol import Message


@dataclass(frozen=True, slots=True)
class ChannelFacts:
    answered: bool = False
    ringing: bool = False
    queued: bool = False
    safe_harbour: bool = False
    agent_id: str | None = None  # talking to this agent


class ChannelPicture:
    """CoreShowChannel items indexed for look-ups by attempt id."""

    def __init__(self, channels: list[Message]) -> None:
        self._by_uid: dict[str, Message] = {}
        self._bridges: dict[str, list[Message]] = {}
        for channel in channels:
            uid = channel.get("Uniqueid")
            if uid:
                self._by_uid[uid] = channel
            bridge = channel.get("BridgeId") or channel.get("BridgeID")
            if bridge:
                self._bridges.setdefault(bridge, []).append(channel)

    def live(self, attempt_id: str) -> bool:
        """Either half of the attempt's call is still up."""
        return attempt_id in self._by_uid or f"{attempt_id}-2" in self._by_uid

    def facts(self, attempt_id: str) -> ChannelFacts | None:
        """None when the call is gone."""
        customer = self._by_uid.get(attempt_id)
        if customer is None:
            return ChannelFacts() if self.live(attempt_id) else None
        state = customer.get("ChannelState") or ""
        app = customer.get("Application") or ""
        in_connect = customer.get("Context") in (dialplan.CONNECT_CONTEXT, dialplan.AGENT_CONNECT_CONTEXT)
        agent = self._agent_in_bridge(customer)
        return ChannelFacts(
            answered=state == "6",
            ringing=state in ("4", "5"),
            queued=app == "Queue" or agent is not None,
            safe_harbour=in_connect and app == "Read",
            agent_id=agent,
        )

    def _agent_in_bridge(self, customer: Message) -> str | None:
        bridge = customer.get("BridgeId") or customer.get("BridgeID")
        if not bridge:
            return None
        for other in self._bridges.get(bridge, []):
            if other is customer:
                continue
            agent = agent_of_channel(other)
            if agent is not None:
                return agent
        return None


def agent_of_channel(channel: Message) -> str | None:
    """The agent id of an agent's channel: AgentLogin (`1001,s`) or the agent-request Local."""
    if channel.get("Application") == "AgentLogin":
        agent = (channel.get("ApplicationData") or "").split(",")[0].strip()
        return agent or None
    name = channel.get("Channel") or ""
    if name.startswith("Local/"):
        base = name.rpartition("-")[0]  # Local/1001@agent-request-00000004;1 -> Local/1001@agent-request
        return dialplan.agent_from_interface(base)
    return None
