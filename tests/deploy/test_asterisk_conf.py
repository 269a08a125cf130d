"""asterisk-conf/: syntax (asterisklint + our own reader) and the dialplan contract."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ami import dialplan as contract
from dialer.campaigns.definition import CampaignDefinition
from tests.deploy.asterisk_conf import (
    CONF_DIR,
    ConfError,
    Extension,
    dialplan,
    letters_outside_brackets,
    parse,
    pattern_matches,
    user_events,
)

CONF_FILES = ("manager.conf", "pjsip.conf", "agents.conf", "queues.conf", "queues_dialer.conf", "extensions.conf")
AGENTS = [str(n) for n in range(1001, 1011)]

# Applications Asterisk 22 ships that asterisklint 0.4 does not know (app_amd).
APPS_UNKNOWN_TO_ASTERISKLINT = {"AMD"}


def asterisklint(path: Path) -> list[str]:
    pytest.importorskip("asterisklint")
    binary = Path(sys.executable).parent / "asterisklint"
    command = [str(binary)] if binary.exists() else [shutil.which("asterisklint") or "asterisklint"]
    result = subprocess.run(
        [*command, "dialplan-check", path.name], cwd=path.parent, capture_output=True, text=True, timeout=60
    )
    lines = (result.stdout + result.stderr).splitlines()
    problems = []
    for line in lines:
        m = re.search(r"E_APP_MISSING: app '([^']+)'", line)
        if m and m[1] in APPS_UNKNOWN_TO_ASTERISKLINT:
            continue
        if re.search(r"\b[EWH]_[A-Z_]+:", line) or "Traceback" in line:
            problems.append(line)
    return problems


def test_asterisklint_passes() -> None:
    assert asterisklint(CONF_DIR / "extensions.conf") == []


def test_asterisklint_would_catch_a_typo(tmp_path: Path) -> None:
    broken = (CONF_DIR / "extensions.conf").read_text().replace("Queue(${EXTEN}", "Queeu(${EXTEN}")
    (tmp_path / "extensions.conf").write_text(broken)
    assert any("Queeu" in p for p in asterisklint(tmp_path / "extensions.conf"))


@pytest.mark.parametrize("name", CONF_FILES)
def test_every_file_parses(name: str) -> None:
    sections = parse(CONF_DIR / name)
    assert sections


def test_reader_rejects_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "x.conf"
    bad.write_text("[a](nosuchtemplate)\nkey = v\n")
    with pytest.raises(ConfError):
        parse(bad)
    bad.write_text("[a]\nthis is not a setting\n")
    with pytest.raises(ConfError):
        parse(bad)


# --- the contract of ami/dialplan.py ----------------------------------------------------


@pytest.fixture(scope="module")
def contexts() -> dict[str, dict[str, Extension]]:
    return dialplan()


def only_extension(contexts: dict[str, dict[str, Extension]], context: str, dialled: str) -> Extension:
    matching = [e for e in contexts[context].values() if e.matches(dialled)]
    assert len(matching) >= 1, f"nothing in [{context}] matches {dialled!r}"
    # Asterisk prefers an exact match, then the most specific pattern; we ship one each
    exact = [e for e in matching if not e.is_pattern]
    return exact[0] if exact else matching[0]


def test_contexts_exist(contexts: dict[str, dict[str, Extension]]) -> None:
    for name in (contract.CONNECT_CONTEXT, contract.AGENT_CONNECT_CONTEXT, contract.AGENT_REQUEST_CONTEXT,
                 contract.AGENT_LOGIN_CONTEXT, contract.SIM_PSTN_CONTEXT):
        assert name in contexts, name


def test_connect_context_takes_every_campaign_queue(contexts: dict[str, dict[str, Extension]]) -> None:
    for queue in ("campaign1", "sales", "survey", "q2", "winter-2026", "retention_v2", "a.b", "nnn", "x1"):
        ext = only_extension(contexts, contract.CONNECT_CONTEXT, queue)
        assert ext.priorities[0].number == 1
    # special extensions are not swallowed by the pattern
    for special in ("h", "i", "t"):
        assert not any(e.matches(special) for e in contexts[contract.CONNECT_CONTEXT].values())


def test_connect_flow_follows_the_contract(contexts: dict[str, dict[str, Extension]]) -> None:
    ext = only_extension(contexts, contract.CONNECT_CONTEXT, "sales")
    apps = [p.app for p in ext.priorities]
    text = " ".join(f"{p.app}({p.args})" for p in ext.priorities)
    for var in (contract.VAR_ATTEMPT, contract.VAR_CAMPAIGN, contract.VAR_QUEUE_TIMEOUT,
                contract.VAR_AMD, contract.VAR_RECORD):
        assert "${" + var + "}" in text, var
    # order: AMD, its UserEvent, recording, Queue, queue result, message, digit, opt-out
    order = ["AMD", "MixMonitor", "Queue", "Playback", "Read"]
    positions = [apps.index(a) for a in order]
    assert positions == sorted(positions)
    # the recording's file is reported right after MixMonitor starts, before the queue
    after_mix = ext.priorities[apps.index("MixMonitor") + 1]
    assert after_mix.app == "UserEvent" and after_mix.args.startswith(contract.USEREVENT_RECORDING + ",")
    assert "${MIXMONITOR_FILENAME}" in after_mix.args, "the path as Asterisk writes it"
    queue = ext.priorities[apps.index("Queue")]
    args = queue.args.split(",")
    assert args[0] == "${EXTEN}" and len(args) == 5 and args[1:4] == ["", "", ""]
    assert args[4], "Queue() needs the connect timeout as its fifth argument"
    mix = ext.priorities[apps.index("MixMonitor")]
    assert "${" + contract.VAR_ATTEMPT + "}" in mix.args  # recording named by attempt id
    # AMD and recording are switched by the variables, not always on
    gotos = [p.args for p in ext.priorities if p.app == "GotoIf"]
    assert any(contract.VAR_AMD in g for g in gotos) and any(contract.VAR_RECORD in g for g in gotos)
    read = ext.priorities[apps.index("Read")]
    assert read.args.split(",")[2] == "1", "the opt-out read takes exactly one digit"


EXPECTED_USER_EVENTS = {
    contract.USEREVENT_AMD: ["AttemptId", "Status", "Cause"],
    contract.USEREVENT_RECORDING: ["AttemptId", "Path"],
    contract.USEREVENT_QUEUE_RESULT: ["AttemptId", "QueueStatus"],
    contract.USEREVENT_OPT_OUT: ["AttemptId", "Digit"],
}
# The agent-direct flow's own: sent before AgentRequest, only in AGENT_CONNECT_CONTEXT.
DIRECT_USER_EVENTS = {contract.USEREVENT_AGENT_REQUEST: ["AttemptId", "Agent"]}


def test_agent_connect_flow_follows_the_contract(contexts: dict[str, dict[str, Extension]]) -> None:
    for agent in AGENTS:
        ext = only_extension(contexts, contract.AGENT_CONNECT_CONTEXT, agent)
        assert ext.priorities[0].number == 1
    assert not any(e.matches(s) for e in contexts[contract.AGENT_CONNECT_CONTEXT].values() for s in "hit")
    failed = only_extension(contexts, contract.AGENT_CONNECT_CONTEXT, "failed")
    assert not failed.is_pattern and "AgentRequest" not in [p.app for p in failed.priorities]
    ext = only_extension(contexts, contract.AGENT_CONNECT_CONTEXT, AGENTS[0])
    apps = [p.app for p in ext.priorities]
    text = " ".join(f"{p.app}({p.args})" for p in ext.priorities)
    for var in (contract.VAR_ATTEMPT, contract.VAR_CAMPAIGN, contract.VAR_AMD, contract.VAR_RECORD):
        assert "${" + var + "}" in text, var
    # AMD, recording, the hand-over UserEvent, AgentRequest, then the no-agent flow
    assert "Queue" not in apps
    request = ext.priorities[apps.index("AgentRequest")]
    assert request.args == "${EXTEN}"
    users = [p for p in ext.priorities if p.app == "UserEvent"]
    names = [u.args.split(",")[0] for u in users]
    assert names == [contract.USEREVENT_AMD, contract.USEREVENT_RECORDING, contract.USEREVENT_AGENT_REQUEST,
                     contract.USEREVENT_QUEUE_RESULT, contract.USEREVENT_OPT_OUT]
    # The recording's file is announced right after MixMonitor, as in the queue flow.
    assert ext.priorities.index(users[1]) == apps.index("MixMonitor") + 1
    assert "Path: ${MIXMONITOR_FILENAME}" in users[1].args
    order = [apps.index("AMD"), apps.index("MixMonitor"), ext.priorities.index(users[2]), apps.index("AgentRequest"),
             ext.priorities.index(users[3]), apps.index("Playback"), apps.index("Read")]
    assert order == sorted(order)
    # QueueStatus AGENT_<AGENT_STATUS>: every value app_agent_pool sets is a no-agent status
    assert "QueueStatus: AGENT_${AGENT_STATUS}" in users[3].args
    for status in ("NOT_LOGGED_IN", "BUSY", "INVALID", "NOT_CONNECTED", "ERROR"):
        assert f"AGENT_{status}" in contract.NO_AGENT_STATUSES


def test_user_events_match_the_contract(contexts: dict[str, dict[str, Extension]]) -> None:
    events = user_events(contexts)
    expected = {**EXPECTED_USER_EVENTS, **DIRECT_USER_EVENTS}
    assert set(events) == set(expected)
    for name, uses in events.items():
        for context, headers in uses:
            if name in DIRECT_USER_EVENTS:
                assert context == contract.AGENT_CONNECT_CONTEXT
            else:
                assert context in (contract.CONNECT_CONTEXT, contract.AGENT_CONNECT_CONTEXT)
            assert headers == expected[name], name
    # the ami/dialplan.py comments name the same headers
    source = Path(contract.__file__).read_text()
    for name, headers in expected.items():
        line = next(text for text in source.splitlines() if f'"{name}"' in text)
        assert all(h in line for h in headers), line


async def test_user_events_match_the_pbx_simulator() -> None:
    """The PBX simulator the engine is tested against emits the same events and headers."""
    from ami.sim.config import SimConfig
    from ami.sim.server import PbxSimulator
    from tests.ami.rawclient import RawAMI

    config = SimConfig(time_scale=200, queues=("sales",), safe_harbour_time=0.5)
    async with PbxSimulator(config) as sim:
        ami = await RawAMI.connect(sim.port)
        try:
            variables = {
                contract.VAR_ATTEMPT: "att-0001", contract.VAR_CAMPAIGN: "sales",
                contract.VAR_QUEUE_TIMEOUT: "1", contract.VAR_AMD: "yes", contract.VAR_RECORD: "yes",
                "SIM_RESULT": "human", "SIM_RING": "0", "SIM_AMD": "HUMAN", "SIM_OPTOUT": contract.OPT_OUT_DIGIT,
            }
            response = await ami.action(
                "Originate", Channel="Local/5551230@" + contract.SIM_PSTN_CONTEXT,
                Context=contract.CONNECT_CONTEXT, Exten="sales", Priority="1", Timeout="20000",
                Async="true", ChannelId="att-0001",
                extra=[("Variable", f"{k}={v}") for k, v in variables.items()],
            )
            assert response.get("Response") == "Success"
            opt_out = await ami.wait_for(
                lambda m: m.event == "UserEvent" and m.get("UserEvent") == contract.USEREVENT_OPT_OUT
            )
        finally:
            await ami.close()
    events = [m for m in ami.messages if m.event == "UserEvent"]
    assert [m.get("UserEvent") for m in events] == list(EXPECTED_USER_EVENTS)
    skip = {"Event", "Privilege", "Channel", "Uniqueid", "Linkedid", "UserEvent", "Timestamp"}
    for m in events:
        headers = [k for k, _ in m.headers if k not in skip and not k.startswith(("Channel", "Caller",
                   "Connected", "Language", "AccountCode", "Context", "Exten", "Priority"))]
        assert headers == EXPECTED_USER_EVENTS[m.get("UserEvent") or ""], headers
        assert m.get("AttemptId") == "att-0001"
    assert opt_out.get("Digit") == contract.OPT_OUT_DIGIT


def test_agent_contexts(contexts: dict[str, dict[str, Extension]]) -> None:
    for agent in AGENTS:
        login = only_extension(contexts, contract.AGENT_LOGIN_CONTEXT, agent)
        assert "AgentLogin" in [p.app for p in login.priorities]
        request = only_extension(contexts, contract.AGENT_REQUEST_CONTEXT, agent)
        assert request.priorities[0].app == "AgentRequest" and request.priorities[0].args == "${EXTEN}"
        # the queue member interface the engine adds names this context
        interface = contract.agent_interface(agent)
        assert contract.agent_from_interface(interface) == agent
        assert interface.endswith("@" + contract.AGENT_REQUEST_CONTEXT)
    phones = contexts["agent-phones"]
    assert any(p.app == "Goto" and contract.AGENT_LOGIN_CONTEXT in p.args
               for e in phones.values() for p in e.priorities)


def test_sim_pstn_answers_every_number_shape(contexts: dict[str, dict[str, Extension]]) -> None:
    for number in ("5551230", "+13055550123", "0044207946000"):
        only_extension(contexts, contract.SIM_PSTN_CONTEXT, number)
    sim = only_extension(contexts, contract.SIM_PSTN_CONTEXT, "5551230")
    apps = {p.app for p in sim.priorities}
    assert {"Answer", "Busy", "Congestion", "Ringing", "Hangup"} <= apps


def test_no_accidental_wildcards(contexts: dict[str, dict[str, Extension]]) -> None:
    for context, exts in contexts.items():
        for name in exts:
            if name.startswith("_"):
                letters = letters_outside_brackets(name)
                assert not re.search(r"[nxz]", letters), f"[{context}] {name}: lowercase n/x/z is a wildcard"


def test_pattern_semantics() -> None:
    assert pattern_matches("_X.", "123") and not pattern_matches("_X.", "1")
    assert pattern_matches("_1XXX", "1001") and not pattern_matches("_1XXX", "10011")
    assert pattern_matches("_agent", "age2t") and not pattern_matches("_agent", "agent")  # the trap
    assert pattern_matches("_[0-9a-z].", "sales") and not pattern_matches("_[0-9a-z].", "h")


# --- the other files --------------------------------------------------------------------


def sections(name: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for s in parse(CONF_DIR / name):
        out.setdefault(s.name, []).append(s)
    return out


def test_manager_is_loopback_with_the_classes_the_engine_needs() -> None:
    conf = sections("manager.conf")
    general = conf["general"][0]
    assert general.get("bindaddr") == ["127.0.0.1"] and general.get("timestampevents") == ["yes"]
    user = conf["dialer"][0]
    read = set(user.get("read")[0].split(","))
    write = set(user.get("write")[0].split(","))
    assert {"system", "call", "agent", "user"} <= read
    assert {"originate", "call", "agent", "reporting"} <= write
    assert "config" in write, "UpdateConfig of queues_dialer.conf (campaign queues without hand edits)"
    assert "all" not in read | write
    assert user.get("permit") == ["127.0.0.1/255.255.255.255"]


def test_pjsip_agents_and_carrier() -> None:
    by_name: dict[str, list] = sections("pjsip.conf")
    templates = {s.name: s for group in by_name.values() for s in group if s.template}
    assert {"agent-endpoint", "agent-auth", "agent-aor", "carrier-endpoint"} <= set(templates)
    assert templates["agent-endpoint"].get("context") == ["agent-phones"]
    for agent in AGENTS:
        kinds = {s.inherits[0] if s.inherits else s.get("type")[0] for s in by_name[agent]}
        assert kinds == {"agent-endpoint", "agent-auth", "agent-aor"}, agent
    # the default campaign dial template names the carrier endpoint
    default_template = CampaignDefinition.model_fields["dial_template"].default
    endpoint = default_template.split("@", 1)[1]
    assert any("carrier-endpoint" in s.inherits for s in by_name[endpoint])


def test_agents_and_queues() -> None:
    agents = sections("agents.conf")
    for agent in AGENTS:
        assert agents[agent][0].inherits == ["dialer-agent"]
    template = agents["dialer-agent"][0]
    assert template.get("ackcall") == ["no"] and int(template.get("wrapuptime")[0]) > 0
    queues = sections("queues.conf")
    dialer_owned = sections(contract.QUEUE_FILE)
    assert not set(queues) & set(dialer_owned), "a queue defined in both files"
    # queues.conf ends by including the file the engine writes, whose template it inherits
    lines = [line.strip() for line in (CONF_DIR / "queues.conf").read_text().splitlines()]
    assert f"#include {contract.QUEUE_FILE}" in lines
    assert contract.QUEUE_TEMPLATE in dialer_owned and dialer_owned[contract.QUEUE_TEMPLATE][0].template
    assert not dialer_owned[contract.QUEUE_TEMPLATE][0].get("weight"), "weight is per campaign queue"
    queues.update(dialer_owned)
    campaign = queues["dialer-campaign"][0]
    assert campaign.template and campaign.get("wrapuptime") == ["0"]
    assert campaign.get("ringinuse") == ["no"] and campaign.get("joinempty") == ["yes"]
    assert queues["general"][0].get("persistentmembers") == ["no"]
    for name, group in queues.items():
        if name not in ("general", "dialer-campaign"):
            assert group[0].inherits == ["dialer-campaign"], name
            assert not group[0].get("member"), "members are added by the engine"


async def test_agent_connect_user_events_match_the_pbx_simulator() -> None:
    """The simulator's agent-direct flow sends the dialplan's UserEvents with its headers:
    connected to a logged-in agent (the agent's line enters the customer's bridge), and the
    no-agent flow for one who is not logged in."""
    from ami.sim.config import SimConfig
    from ami.sim.server import PbxSimulator
    from tests.ami.rawclient import RawAMI

    config = SimConfig(time_scale=200, agents=2, member_ready_delay=0.0, safe_harbour_time=0.5)
    async with PbxSimulator(config) as sim:
        sim.agent_logoff_by_id("1002")  # defined in agents.conf, not logged in
        ami = await RawAMI.connect(sim.port)
        try:
            for attempt, agent in (("att-0002", "1001"), ("att-0003", "1002")):
                variables = {contract.VAR_ATTEMPT: attempt, contract.VAR_CAMPAIGN: "7", contract.VAR_AMD: "no",
                             contract.VAR_RECORD: "no", "SIM_RESULT": "human", "SIM_RING": "0", "SIM_TALK": "1"}
                response = await ami.action(
                    "Originate", Channel="Local/5551230@" + contract.SIM_PSTN_CONTEXT,
                    Context=contract.AGENT_CONNECT_CONTEXT, Exten=agent, Priority="1", Timeout="20000",
                    Async="true", ChannelId=attempt, extra=[("Variable", f"{k}={v}") for k, v in variables.items()],
                )
                assert response.get("Response") == "Success"
                await ami.wait_for(lambda m, a=attempt: m.event == "Hangup" and m.get("Uniqueid") == a)
        finally:
            await ami.close()
    expected = {**EXPECTED_USER_EVENTS, **DIRECT_USER_EVENTS}
    by_attempt: dict[str, list[str]] = {}
    skip = {"Event", "Privilege", "Channel", "Uniqueid", "Linkedid", "UserEvent", "Timestamp"}
    for m in (m for m in ami.messages if m.event == "UserEvent"):
        by_attempt.setdefault(m.get("AttemptId") or "", []).append(m.get("UserEvent") or "")
        headers = [k for k, _ in m.headers if k not in skip and not k.startswith(("Channel", "Caller",
                   "Connected", "Language", "AccountCode", "Context", "Exten", "Priority"))]
        assert headers == expected[m.get("UserEvent") or ""], headers
    assert by_attempt["att-0002"] == [contract.USEREVENT_AGENT_REQUEST]
    assert by_attempt["att-0003"] == [contract.USEREVENT_AGENT_REQUEST, contract.USEREVENT_QUEUE_RESULT,
                                      contract.USEREVENT_OPT_OUT]
    results = [m for m in ami.messages if m.event == "UserEvent" and m.get("AttemptId") == "att-0003"
               and m.get("UserEvent") == contract.USEREVENT_QUEUE_RESULT]
    assert results[0].get("QueueStatus") == "AGENT_NOT_LOGGED_IN"
    # connected: the agent's login channel entered the bridge the customer entered
    bridges = {m.get("BridgeUniqueid") for m in ami.messages if m.event == "BridgeEnter" and m.get("Uniqueid") == "att-0002"}
    joined = [m for m in ami.messages if m.event == "BridgeEnter" and m.get("BridgeUniqueid") in bridges
              and m.get("Uniqueid") != "att-0002"]
    assert joined and joined[0].get("BridgeNumChannels") == "2" and "1001@agent-login" in (joined[0].get("Channel") or "")
