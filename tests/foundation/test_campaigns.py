from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest

from compliance.numbers import ContactZonePolicy
from dialer.campaigns.definition import (
    DefinitionError,
    IllegalTransition,
    load_definition,
    next_state,
    parse_definition,
)
from dialer.db.models import CampaignState as S
from dialer.db.notify import CAMPAIGN_CHANNEL
from tests.foundation.helpers import dialer

EXAMPLE = Path(__file__).parents[2] / "examples" / "campaign.toml"
MINIMAL = {"name": "c1", "caller_id": "+12025550100"}


def test_example_file_is_valid() -> None:
    definition = load_definition(EXAMPLE)
    assert definition.name == "spring-renewals"
    assert definition.retry.rules["busy"].delays_min == [10, 30]


def test_the_two_campaign_floor_example_is_valid() -> None:
    floor = EXAMPLE.parent / "floor"
    retention = load_definition(floor / "retention.toml")
    survey = load_definition(floor / "survey.toml")
    assert retention.priority > survey.priority
    assert set(retention.agent_groups) & set(survey.agent_groups) == {"senior"}


def test_the_preview_example_is_valid_and_applies(database_url: str) -> None:
    preview = EXAMPLE.parent / "preview.toml"
    definition = load_definition(preview)
    assert definition.dial_mode == "preview"
    assert (definition.preview.timeout_s, definition.preview.on_timeout) == (90, "skip")
    applied = dialer(database_url, "campaign", "apply", str(preview))
    assert applied.exit_code == 0, applied.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Has Spaces"}, "name: use lowercase"),
        ({"dial_mode": "turbo"}, "dial_mode: Input should be"),
        ({"ring_timeout_s": 2}, "ring_timeout_s"),
        ({"dial_template": "PJSIP/carrier"}, "dial_template: must contain {number}"),
        ({"dial_template": "PJSIP/{number}@{trunk}"}, "only {number} may be substituted"),
        ({"windows": {"monday": ["9-17"]}}, "windows.monday: span '9-17' is not HH:MM-HH:MM"),
        ({"windows": {"monday": ["17:00-09:00"]}}, "ends before it starts"),
        ({"windows": {"fallback_timezone": "Mars/Base"}}, "unknown time zone"),
        ({"pacing": {"abandon_target": 0.05}}, "pacing.abandon_target"),
        # The target must leave a margin under the profile's cap (US 3 %, or an override).
        ({"pacing": {"abandon_target": 0.03}}, "pacing.abandon_target: 0.03 must be below the abandon cap"),
        ({"compliance": {"abandon_cap": 0.02}}, "pacing.abandon_target: 0.025 must be below the abandon cap"),
        # A pacing setting the mode never reads is refused, not ignored.
        ({"pacing": {"dial_level": 2.0}}, "pacing.dial_level: dial_mode predictive does not use it"),
        ({"dial_mode": "progressive", "pacing": {"abandon_target": 0.02}},
         "pacing.abandon_target: dial_mode progressive does not use it"),
        ({"dial_mode": "ratio", "pacing": {"dial_level": 2.0, "max_occupancy": 0.8}},
         "pacing.max_occupancy: dial_mode ratio does not use it"),
        ({"colour": "blue"}, "colour: is not a known key"),
        # Ofcom's periods are the uk profile's minimums: a retry delay may not shorten them.
        ({"regulation": "uk", "retry": {"rules": {"machine": {"delays_min": [240]}}}},
         "retry.rules.machine: delays must be >= 1440 minutes under profile uk"),
        ({"regulation": "uk", "retry": {"rules": {"queue_hangup": {"delays_min": [120]}}}},
         "retry.rules.queue_hangup: delays must be >= 4320 minutes under profile uk"),
        ({"regulation": "uk", "compliance": {"no_repeat_after_machine_hours": 4}},
         "compliance.no_repeat_after_machine_hours: must be >= 24 h under profile uk"),
        ({"compliance": {"contact_zone": "address"}}, "compliance.contact_zone: must be 'intersect'"),
        # Campaigns sharing agents: priority 0..100, weight 1..100, group names as stored.
        ({"priority": 101}, "priority: Input should be less than or equal to 100"),
        ({"priority": -1}, "priority: Input should be greater than or equal to 0"),
        ({"weight": 0}, "weight: Input should be greater than or equal to 1"),
        ({"agent_groups": ["Senior Staff"]}, "agent_groups: group 'Senior Staff': use lowercase"),
        ({"agent_groups": ["senior", "senior"]}, "agent_groups: a group is named twice"),
        (
            {"dispositions": [{"code": "ok", "label": "OK"}, {"code": "ok", "label": "again"}]},
            "disposition codes repeated: ok",
        ),
    ],
)
def test_invalid_definitions_name_the_key(change: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(DefinitionError, match=message.replace("{", r"\{").replace("}", r"\}")):
        parse_definition({**MINIMAL, **change})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("caller_id", '"Sales" <+12025550100>\r\nAction: Hangup'),
        ("caller_id", "+12025550100\n"),
        ("dial_template", "PJSIP/{number}@carrier\r\nVariable: x=1"),
        ("queue", "sales\x00"),
        ("queue", "sales\tq"),
        ("agents", ["1001", "1002\r\n"]),
    ],
)
def test_values_sent_to_ami_refuse_line_breaks_and_control_characters(key: str, value: object) -> None:
    # They become AMI headers: a line break would end the header (or the action) early.
    with pytest.raises(DefinitionError, match=f"{key}(\\.\\d)?: must not contain control characters"):
        parse_definition({**MINIMAL, key: value})


def test_pacing_settings_each_mode_uses_are_accepted() -> None:
    for mode, pacing in [
        ("ratio", {"dial_level": 2.5}),
        ("adaptive", {"dial_level": 1.5, "abandon_target": 0.02}),
        ("pi", {"abandon_target": 0.02}),
        ("predictive", {"abandon_target": 0.02, "max_occupancy": 0.85}),
    ]:
        definition = parse_definition({**MINIMAL, "dial_mode": mode, "pacing": pacing})
        assert definition.pacing.model_dump(include=set(pacing)) == pacing
    # Under a lower cap a lower target is fine.
    parse_definition({**MINIMAL, "compliance": {"abandon_cap": 0.02}, "pacing": {"abandon_target": 0.015}})


def test_contact_zone_setting_and_uk_retry_rules_that_keep_the_minimums() -> None:
    assert parse_definition(MINIMAL).profile.contact_zone_policy is ContactZonePolicy.INTERSECT
    trusting = parse_definition({**MINIMAL, "compliance": {"contact_zone": "trust"}})
    assert trusting.profile.contact_zone_policy is ContactZonePolicy.TRUST
    uk = parse_definition({**MINIMAL, "regulation": "uk", "retry": {"rules": {
        "machine": {"delays_min": [1440, 2880]}, "queue_hangup": {"delays_min": [4320], "max": 2}}}})
    assert uk.profile.attempts.rule_for("machine").delays[0].total_seconds() == 86400


def test_missing_required_key() -> None:
    with pytest.raises(DefinitionError, match="caller_id: is required"):
        parse_definition({"name": "c1"})


def test_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("name = \n")
    with pytest.raises(DefinitionError, match="not a valid TOML file"):
        load_definition(path)


def test_life_cycle_transitions() -> None:
    assert next_state("approve", S.DRAFT) is S.APPROVED
    assert next_state("pilot", S.APPROVED) is S.PILOT
    assert next_state("start", S.PILOT) is S.RUNNING
    assert next_state("pause", S.RUNNING) is S.PAUSED
    assert next_state("resume", S.PAUSED, paused_from=S.PILOT) is S.PILOT
    assert next_state("resume", S.PAUSED, paused_from=S.RUNNING) is S.RUNNING
    assert next_state("stop", S.PAUSED) is S.STOPPED
    with pytest.raises(IllegalTransition, match="cannot start a campaign that is draft"):
        next_state("start", S.DRAFT)
    with pytest.raises(IllegalTransition, match="cannot resume a campaign that is stopped"):
        next_state("resume", S.STOPPED)
    for command in ("approve", "pilot", "start", "pause", "resume", "stop", "complete"):
        with pytest.raises(IllegalTransition):
            next_state(command, S.COMPLETED)


def test_cli_life_cycle_with_audit(database_url: str) -> None:
    assert dialer(database_url, "campaign", "apply", str(EXAMPLE)).exit_code == 0
    again = dialer(database_url, "campaign", "apply", str(EXAMPLE))
    assert "unchanged" in again.stdout
    bad = dialer(database_url, "campaign", "start", "spring-renewals")
    assert bad.exit_code == 1
    assert "cannot start a campaign that is draft" in bad.stderr
    for command in ("approve", "pilot", "pause", "resume", "start", "pause", "resume", "stop"):
        result = dialer(database_url, "campaign", command, "spring-renewals", "--note", f"n-{command}")
        assert result.exit_code == 0, result.output
    shown = dialer(database_url, "campaign", "show", "spring-renewals")
    assert "stopped" in shown.stdout
    # every change is in the audit trail with who and the note
    assert shown.stdout.count("tester") == 9
    assert "paused   │ pilot" in shown.stdout
    finished = dialer(database_url, "campaign", "apply", str(EXAMPLE))
    assert finished.exit_code == 1
    assert "cannot be changed" in finished.stderr
    missing = dialer(database_url, "campaign", "pause", "nope")
    assert missing.exit_code == 1
    assert "no campaign named 'nope'" in missing.stderr


def test_cli_list_and_json(database_url: str) -> None:
    empty = dialer(database_url, "campaign", "list")
    assert "no campaigns yet" in empty.stdout
    dialer(database_url, "campaign", "apply", str(EXAMPLE))
    listed = dialer(database_url, "campaign", "list")
    assert "spring-renewals" in listed.stdout
    shown = dialer(database_url, "campaign", "show", "spring-renewals", "--json")
    assert json.loads(shown.stdout)["queue"] == "spring-renewals"


async def test_state_change_is_notified(database_url: str) -> None:
    """A running engine LISTENs; a CLI change reaches it in the same commit."""
    await asyncio.to_thread(dialer, database_url, "campaign", "apply", str(EXAMPLE))
    conn = await asyncpg.connect(database_url)
    received: asyncio.Queue[str] = asyncio.Queue()
    await conn.add_listener(CAMPAIGN_CHANNEL, lambda *args: received.put_nowait(args[3]))
    try:
        await asyncio.to_thread(dialer, database_url, "campaign", "approve", "spring-renewals")
        payload = json.loads(await asyncio.wait_for(received.get(), 5))
        assert payload["state"] == "approved"
        assert isinstance(payload["campaign_id"], int)
    finally:
        await conn.close()


def test_schema_out_of_date_names_the_fix(empty_database_url: str) -> None:
    result = dialer(empty_database_url, "campaign", "list")
    assert result.exit_code == 1
    assert "run `dialer db upgrade`" in result.stderr
    upgraded = dialer(empty_database_url, "db", "upgrade")
    assert upgraded.exit_code == 0
    assert "schema upgraded from empty to" in upgraded.stdout
    assert dialer(empty_database_url, "campaign", "list").exit_code == 0
    assert "up to date" in dialer(empty_database_url, "db", "status").stdout
