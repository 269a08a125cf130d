"""The simulator's channel actions: Originate, Hangup, Redirect, CoreShowChannels, Status."""

from __future__ import annotations

import random

from ami.ids import MAX_UNIQUEID_LEN
from ami.sim.actions import Handler, leading_int, parse_callerid
from ami.sim.callflow import CallFlow
from ami.sim.calls import CONNECT, QUEUED, SAFE_HARBOUR, TALKING, SimCall
from ami.sim.channels import hms
from ami.sim.core import PbxCore
from ami.sim.queues import AgentPool
from ami.sim.transport import Session


class CallActions:
    """Actions on calls and channels, with Asterisk's error texts."""

    def __init__(self, core: PbxCore, pool: AgentPool, flow: CallFlow) -> None:
        self._core = core
        self._pool = pool
        self._flow = flow

    def handlers(self) -> dict[str, Handler]:
        return {
            "originate": self.originate,
            "hangup": self.hangup,
            "redirect": self.redirect,
            "coreshowchannels": self.coreshowchannels,
            "status": self.status,
        }

    def originate(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                  h: list[tuple[str, str]]) -> None:
        core, out = self._core, self._core.out
        channel = m.get("channel")
        if not channel:
            out.err(sess, aid, "Channel not specified")
            return
        cid = m.get("channelid")
        if cid is not None and len(cid) > MAX_UNIQUEID_LEN:
            out.err(sess, aid, f"Uniqueid length exceeds maximum of {MAX_UNIQUEID_LEN}")
            return
        context, exten, priority = m.get("context"), m.get("exten"), m.get("priority")
        application = m.get("application")
        if exten and not (context and priority):
            out.err(sess, aid, "Originate with 'Exten' requires 'Context' and 'Priority'")
            return
        if priority is not None and not priority.isdigit():
            out.err(sess, aid, "Invalid priority")
            return
        if "/" not in channel:
            out.err(sess, aid, "Invalid channel")
            return
        if (not application and context is not None
                and not self._pool.exten_exists(context, exten)):
            out.err(sess, aid, "Extension does not exist.")
            return
        async_ = m.get("async", "false").lower() in ("true", "yes", "1", "on")
        core.stats.originates += 1
        core.stats.originate_channel_ids.append(cid or "")
        core.stats.originate_action_ids.append(aid or "")
        tech, _, rest = channel.partition("/")
        number, _, where = rest.partition("@")
        num, name = parse_callerid(m.get("callerid", ""))
        variables = {}
        for item in v:
            k, _, val = item.partition("=")
            variables[k.strip().lstrip("_")] = val
        call = SimCall(
            attempt_id=cid or "", action_id=aid or "", dial_string=channel, tech=tech,
            number=number, context=context, exten=exten, priority=priority or "1",
            application=application, app_data=m.get("data"),
            timeout_ms=leading_int(m.get("timeout"), 30000), caller_num=num,
            caller_name=name, account=m.get("account", ""), variables=variables,
            rng=random.Random(f"{core.config.seed}:{cid or core.stats.originates}"),
        )
        call.extra["where"] = where
        call.extra["other_id"] = m.get("otherchannelid") or ""
        if not async_:
            core.spawn(self._flow.sync_originate(sess, call), f"originate-sync-{cid}")
            return
        out.ok(sess, aid, "Originate successfully queued")
        self._flow.start_call(call)

    def hangup(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
               h: list[tuple[str, str]]) -> None:
        core, out = self._core, self._core.out
        name = m.get("channel")
        if not name:
            out.err(sess, aid, "No channel specified")
            return
        ch = core.channels.get(name)
        if ch is None:
            out.err(sess, aid, "No such channel")
            return
        cause = leading_int(m.get("cause"), 16) or 16
        out.ok(sess, aid, "Channel Hungup")
        if ch.agent_id is not None:
            agent = self._pool.agents.get(ch.agent_id)
            if agent is not None:
                self._flow.agent_logoff(agent)
            return
        call = core.call_of(ch)
        if call is not None:
            self._flow.hangup_call(call, cause)
        else:
            core.hangup_chan(ch, cause)

    def redirect(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                 h: list[tuple[str, str]]) -> None:
        core, out = self._core, self._core.out
        name = m.get("channel")
        if not name:
            out.err(sess, aid, "Channel not specified")
            return
        ctx, exten = m.get("context"), m.get("exten")
        if not ctx:
            out.err(sess, aid, "Context not specified")
            return
        if not exten:
            out.err(sess, aid, "Exten not specified")
            return
        ch = core.channels.get(name)
        if ch is None:
            out.err(sess, aid, "Channel not specified")
            return
        call = core.call_of(ch)
        if call is None or call.stage not in (CONNECT, QUEUED, SAFE_HARBOUR, TALKING):
            out.err(sess, aid, "Redirect failed")
            return
        out.ok(sess, aid, "Redirect successful")
        self._flow.redirect(call, ctx, exten)

    def coreshowchannels(self, sess: Session, aid: str | None, m: dict[str, str],
                         v: list[str], h: list[tuple[str, str]]) -> None:
        core = self._core
        a = f"ActionID: {aid}\r\n" if aid is not None else ""
        items = []
        for ch in core.channels.values():
            items.append(f"Event: CoreShowChannel\r\n{a}{ch.block()}Application: {ch.app}\r\n"
                         f"ApplicationData: {ch.appdata}\r\n"
                         f"Duration: {hms(core.sim_elapsed(ch.created))}\r\n"
                         f"BridgeId: {ch.bridge}\r\n\r\n")
        core.out.send_list(sess, aid, "Channels will follow", items, "CoreShowChannelsComplete")

    def status(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
               h: list[tuple[str, str]]) -> None:
        core = self._core
        a = f"ActionID: {aid}\r\n" if aid is not None else ""
        name = m.get("channel")
        if name and name not in core.channels:
            core.out.err(sess, aid, "No such channel")
            return
        items = []
        for ch in core.channels.values():
            if name and ch.name != name:
                continue
            items.append(
                f"Event: Status\r\nPrivilege: Call\r\n{ch.block()}Type: "
                f"{ch.name.partition('/')[0]}\r\nDNID: \r\nEffectiveConnectedLineNum: "
                f"{ch.conn_num}\r\nEffectiveConnectedLineName: {ch.conn_name}\r\n"
                f"TimeToHangup: 0\r\nBridgeID: {ch.bridge}\r\nApplication: {ch.app}\r\n"
                f"Data: {ch.appdata}\r\nNativeformats: (ulaw)\r\nReadformat: ulaw\r\n"
                f"Readtrans: \r\nWriteformat: ulaw\r\nWritetrans: \r\nCallgroup: 0\r\n"
                f"Pickupgroup: 0\r\nSeconds: {int(core.sim_elapsed(ch.created))}\r\n{a}\r\n")
        core.out.send_list(sess, aid, "Channel status will follow", items, "StatusComplete",
                           f"Items: {len(items)}\r\n")
