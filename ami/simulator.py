"""The PBX simulator: a TCP server that speaks AMI like Asterisk 22.10.1.

    from ami.simulator import PbxSimulator, SimConfig
    async with PbxSimulator(SimConfig(agents=5, time_scale=20, seed=7)) as sim:
        ... connect an AMI client to 127.0.0.1:sim.port (user/secret "dialer") ...

What it does (details in the modules of ami/sim/; field names and order are those of the
real captures):
- Banner ``Asterisk Call Manager/11.0.0``, Login (plain or MD5 via Challenge), a bad
  login answered "Authentication failed" after ``bad_login_delay`` and closed, the error
  texts of ami-transcripts/03-05-errors.txt, ``Events:`` class filtering, Timestamp on
  events, EventList framing for CoreShowChannels, QueueStatus, QueueSummary, Agents, Status.
- Originate ``Local/<number>@sim-pstn`` (Local ;1/;2 pair) or ``PJSIP/<number>@<trunk>``
  into ``Context: dialer-connect`` / ``Exten: <queue>``: the line result, ring time, AMD
  verdict (``DIALER_AMD=yes``), patience, talk and wrap-up come from the shared
  `pacing.world.WorldModel`, drawn from ``Random(f"{seed}:{ChannelId}")`` so a call's
  fate depends only on the seed and its id. Per-call overrides (like the rig's SIM_*
  variables): ``SIM_RESULT`` (human|machine|busy|congestion|invalid|no_answer),
  ``SIM_RING``, ``SIM_TALK``, ``SIM_PATIENCE``, ``SIM_AMD`` (HUMAN|MACHINE|NOTSURE),
  ``SIM_OPTOUT`` (the digit pressed after the safe-harbour message, '' for none).
- Outcomes (Local / PJSIP): answered -> OriginateResponse Success 4, Hangup 16; busy ->
  Failure 5, Hangup ;1 0 / ;2 17 (PJSIP: Failure 0, Hangup 17); congestion -> Failure 8,
  0 / 34 (PJSIP: 0, 34); ring timeout -> Failure 3, Hangup 19, no DialEnd; network gives
  up before the timeout -> Failure 0, Hangup 19, DialEnd NOANSWER; invalid number ->
  Failure 0, Hangup 1, DialEnd CHANUNAVAIL. Failure OriginateResponse comes before the
  originated channel's Hangup, and is broadcast to every session.
- Answered: [AMD -> UserEvent DialerAMD; MACHINE hangs up] -> QueueCallerJoin -> an agent
  (AgentCalled, DialBegin, AgentConnect, BridgeEnter; the agent-request Local pair
  optimises away) -> talk -> AgentComplete (Reason caller), Hangup 16 -> member wrap-up
  (QueueMemberStatus 2 -> 1). No free agent in time: QueueCallerAbandon + Leave,
  UserEvent DialerQueueResult (TIMEOUT), safe-harbour message, UserEvent DialerOptOut
  (Digit 9 with ``opt_out_probability``, else empty). A person whose patience runs out
  hangs up in the queue: HangupRequest, QueueCallerAbandon + Leave, Hangup 16, no
  UserEvent.
- Agents ``1001..`` (``agents=N``) log in to the pool at start (AgentLogin); queue
  members are added by the engine (QueueAdd Local/<id>@agent-request, StateInterface
  Agent:<id>): Status 5 for ``member_ready_delay`` after login, then 1; leastrecent
  strategy; QueuePause/QueueRemove/AgentLogoff/Hangup/Redirect as on Asterisk.
- A ChannelId that is a case-insensitive prefix of a live Uniqueid (c-3 vs c-37) gets an
  immediate OriginateResponse Failure Reason 0 carrying the live channel's Uniqueid.
- Failure injection: `PbxSimulator.drop_connections()`, ``.response_delay``, ``.silent``
  (half-dead connection), `send_garbled()`, ``await shutdown(restart=..., grace=...)``
  ("Asterisk is shutting down" to every action, then Event: Shutdown and EOF).
- Counters: ``sim.stats`` (originates, actions by name, events, outcomes...),
  ``sim.live_channels``, ``sim.active_calls``.
"""

from __future__ import annotations

from ami.sim.config import SimConfig, world_from_dict
from ami.sim.server import PbxSimulator
from ami.sim.stats import SimStats

__all__ = ["PbxSimulator", "SimConfig", "SimStats", "world_from_dict"]
