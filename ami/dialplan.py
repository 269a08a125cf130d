"""The contract between the dialer and the dialplan it expects (asterisk-conf/).

One place names every context, extension, channel variable and UserEvent that the
engine, the PBX simulator and `asterisk-conf/extensions.conf` rely on. A test checks
that the shipped dialplan and the simulator both honour it.

Call flow (DESIGN.md §3):
  Originate Channel=<dial string> Context=CONNECT_CONTEXT Exten=<queue name> Priority=1
    with Variable: DIALER_ATTEMPT=<attempt uuid>, DIALER_CAMPAIGN=<campaign id>,
    DIALER_QUEUE_TIMEOUT=<connect timeout s>, DIALER_AMD=yes|no, DIALER_RECORD=yes|no
  answered -> [AMD() -> UserEvent DialerAMD] -> [MixMonitor -> UserEvent DialerRecording]
           -> Queue(<queue>,,,,timeout)
           -> UserEvent DialerQueueResult (QUEUESTATUS)
           -> on TIMEOUT: safe-harbour message, Read one digit -> UserEvent DialerOptOut
Agent-direct call (one chosen agent, no queue: personal callbacks, preview):
  Originate Channel=<dial string> Context=AGENT_CONNECT_CONTEXT Exten=<agent id> Priority=1
    with the same variables (DIALER_QUEUE_TIMEOUT unused: AgentRequest connects or fails at once)
  answered -> [AMD() -> UserEvent DialerAMD] -> [MixMonitor -> UserEvent DialerRecording]
           -> UserEvent DialerAgentRequest (AttemptId, Agent) -> AgentRequest(<agent id>)
              connected: BridgeEnter of the agent's line into the customer's bridge
              (BridgeNumChannels 2); the call ends inside AgentRequest
           -> no agent: UserEvent DialerQueueResult QueueStatus=AGENT_<AGENT_STATUS>
              (AGENT_NOT_LOGGED_IN, AGENT_BUSY, ...), safe harbour and opt-out as above
Campaign queues live in QUEUE_FILE (included from queues.conf), each inheriting
QUEUE_TEMPLATE; the engine adds them with UpdateConfig and loads them with QueueReload.
"""

from __future__ import annotations

# Context the answered customer enters; the extension is the campaign's queue name.
CONNECT_CONTEXT = "dialer-connect"
# Context the answered customer of an agent-direct call enters; the extension is the agent id.
AGENT_CONNECT_CONTEXT = "dialer-agent-connect"
# Context app_queue dials for an agent member Local/<agent>@AGENT_REQUEST_CONTEXT.
AGENT_REQUEST_CONTEXT = "agent-request"
# Context an agent softphone dials to log in (AgentLogin) on a real Asterisk.
AGENT_LOGIN_CONTEXT = "agent-login"
# Test-rig PSTN imitation: Local/<number>@SIM_PSTN_CONTEXT.
SIM_PSTN_CONTEXT = "sim-pstn"

# Channel variables set by the engine on Originate.
VAR_ATTEMPT = "DIALER_ATTEMPT"
VAR_CAMPAIGN = "DIALER_CAMPAIGN"
VAR_QUEUE_TIMEOUT = "DIALER_QUEUE_TIMEOUT"
VAR_AMD = "DIALER_AMD"
VAR_RECORD = "DIALER_RECORD"

# UserEvents the dialplan sends (header `UserEvent: <name>`), with their own headers.
USEREVENT_AMD = "DialerAMD"  # AttemptId, Status (HUMAN|MACHINE|NOTSURE|HANGUP), Cause
USEREVENT_QUEUE_RESULT = "DialerQueueResult"  # AttemptId, QueueStatus (TIMEOUT|...)
USEREVENT_OPT_OUT = "DialerOptOut"  # AttemptId, Digit ('' when none pressed)
# Sent right after MixMonitor starts, by any context that records a dialer call: the file
# as Asterisk writes it (MIXMONITOR_FILENAME). Asterisk 22's own MixMonitorStart event
# carries only the channel, not the file, so the dialplan says it.
USEREVENT_RECORDING = "DialerRecording"  # AttemptId, Path (the file MixMonitor writes)
USEREVENT_AGENT_REQUEST = "DialerAgentRequest"  # AttemptId, Agent: handed to that agent

# The opt-out key offered by the safe-harbour message.
OPT_OUT_DIGIT = "9"

# QUEUESTATUS values that mean no agent took the answered call: each one plays the
# safe-harbour message, so each is an abandoned call. UNKNOWN: the queue does not exist.
NO_AGENT_STATUSES = frozenset({"TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL",
                               "LEAVEUNAVAIL", "UNKNOWN"}) | frozenset(
    # An agent-direct call's AgentRequest that connected nobody: AGENT_ + app_agent_pool's
    # AGENT_STATUS (empty when the channel could not even look the agent up).
    f"AGENT_{status}" for status in ("NOT_LOGGED_IN", "BUSY", "INVALID", "NOT_CONNECTED", "ERROR", ""))

# The dialer-owned queue file (asterisk-conf/queues_dialer.conf, #included from queues.conf)
# and the template every campaign queue in it inherits. UpdateConfig reads that one file,
# so the template must be defined in it.
QUEUE_FILE = "queues_dialer.conf"
QUEUE_TEMPLATE = "dialer-campaign"


def agent_interface(agent_id: str) -> str:
    """Queue member interface for an app_agent_pool agent (no Agent/ channel since 12)."""
    return f"Local/{agent_id}@{AGENT_REQUEST_CONTEXT}"


def agent_state_interface(agent_id: str) -> str:
    return f"Agent:{agent_id}"


def agent_member_name(agent_id: str) -> str:
    return f"Agent/{agent_id}"


def agent_from_interface(interface: str) -> str | None:
    """`Local/1001@agent-request` -> `1001`; anything else -> None."""
    prefix, sep, context = interface.partition("@")
    if not sep or context != AGENT_REQUEST_CONTEXT or not prefix.startswith("Local/"):
        return None
    return prefix[len("Local/"):]
