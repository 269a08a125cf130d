"""Every campaign key acts or is refused: default_region (contact import, DNC commands),
alt_numbers_on, and disposition flags the attempt policy would never act on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from compliance.outcomes import Outcome
from dialer.campaigns import service as campaign_service
from dialer.campaigns.definition import DefinitionError, parse_definition
from dialer.contacts import dnc as dnc_service
from dialer.contacts.importer import ImportOptions, import_contacts
from dialer.db.database import Database
from dialer.engine.rules import CampaignRules
from tests.foundation.helpers import dialer


def _definition(**extra: Any) -> Any:
    return parse_definition({"name": "keys", "caller_id": "+12025550100", **extra})


async def test_import_reads_numbers_in_the_campaigns_default_region(db: Database, tmp_path: Path) -> None:
    await campaign_service.apply(db, _definition(default_region="gb"), "test")
    path = tmp_path / "uk.csv"
    path.write_text("phone,alt\n020 7946 0018,0113 496 0001\n")
    report = await import_contacts(db, "keys", path, ImportOptions(workers=1, alt_number_columns=("alt",)))
    assert (report.imported, report.default_region) == (1, "GB")
    async with db.raw_transaction() as conn:
        row = await conn.fetchrow("SELECT number, alt_numbers FROM contacts")
    assert (row["number"], row["alt_numbers"]) == ("+442079460018", ["+441134960001"])
    # --default-region given explicitly wins over the campaign's.
    us = tmp_path / "us.csv"
    us.write_text("phone\n(202) 555-0143\n")
    report = await import_contacts(db, "keys", us, ImportOptions(workers=1, default_region="US"))
    assert report.imported == 1


def test_cli_import_and_dnc_use_the_campaigns_region(database_url: str, tmp_path: Path) -> None:
    campaign = tmp_path / "keys.toml"
    campaign.write_text('name = "keys"\ncaller_id = "+12025550100"\ndefault_region = "GB"\n')
    assert dialer(database_url, "campaign", "apply", str(campaign)).exit_code == 0
    path = tmp_path / "list.csv"
    path.write_text("phone\n020 7946 0019\n")
    result = dialer(database_url, "contacts", "import", "keys", str(path), "--quiet")
    assert result.exit_code == 0 and "region GB" in result.stdout
    added = dialer(database_url, "dnc", "add", "020 7946 0019", "--campaign", "keys")
    assert added.exit_code == 0 and "+442079460019 added to the keys" in added.stdout
    check = dialer(database_url, "dnc", "check", "020 7946 0019", "--campaign", "keys")
    assert check.exit_code == 3
    # The global list has no campaign: US, unless --default-region says otherwise.
    bad = dialer(database_url, "dnc", "add", "020 7946 0019")
    assert bad.exit_code != 0 and "bad phone number" in bad.stderr


async def test_dnc_import_uses_the_campaigns_region(db: Database, tmp_path: Path) -> None:
    await campaign_service.apply(db, _definition(default_region="GB"), "test")
    path = tmp_path / "registry.txt"
    path.write_text("020 7946 0020\n")
    report = await dnc_service.import_registry(db, path, campaign="keys", workers=1)
    assert report.added == 1
    _, matches = await dnc_service.check(db, "+442079460020", campaign="keys")
    assert matches


def test_unknown_region_and_alt_numbers_on_are_refused() -> None:
    with pytest.raises(DefinitionError, match="default_region: .*unknown region 'XX'"):
        _definition(default_region="XX")
    with pytest.raises(DefinitionError, match="alt_numbers_on: unknown outcome or disposition 'bussy'"):
        _definition(alt_numbers_on=["busy", "bussy"])
    # Outcomes, default disposition codes and the campaign's own codes are known.
    own = [{"code": "moved", "label": "Moved away"}]
    assert _definition(alt_numbers_on=["busy", "wrong_number", "moved"], dispositions=own).alt_numbers_on
    assert _definition().alt_numbers_on == [Outcome.CONGESTION.value, "wrong_number"]


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        ({"retry_after_min": 30}, "retry_after_min needs retry = true"),
        ({"final": False, "retry": True, "success": True}, "cannot retry"),
        ({"final": False, "retry": True, "add_dnc": True}, "cannot retry"),
        ({"final": False}, "final = false needs retry = true or callback = true"),
    ],
)
def test_disposition_flags_that_would_not_act_are_refused(flags: dict[str, Any], problem: str) -> None:
    with pytest.raises(DefinitionError, match=problem):
        _definition(dispositions=[{"code": "mine", "label": "Mine", **flags}])


def test_retry_after_min_is_the_dispositions_retry_delay() -> None:
    own = [{"code": "later", "label": "Call later", "final": False, "retry": True, "retry_after_min": 45}]
    rules = CampaignRules(_definition(dispositions=own, regulation="none", retry={"min_gap_min": 0}))
    now = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
    decision = rules.decide(
        attempt_id="a", campaign_id=1, contact_id=1, number="+12125550101", contact_zone=None,
        outcome=Outcome.ANSWERED, history=[], disposition="later", now=now,
    )
    assert (decision.state, decision.next_attempt_at) == ("ready", now + timedelta(minutes=45))


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"windows": {"holidays_subdivision": "CA"}}, "holidays_subdivision needs holidays_country"),
        ({"retry": {"rules": {"busy": {"retry": False, "delays_min": [5]}}}}, "retry = false never retries"),
        ({"retry": {"rules": {"bussy": {"delays_min": [5]}}}}, "retry.rules: unknown outcome or disposition 'bussy'"),
        ({"compliance": {"retry": {"nope": {"delays_minutes": [5]}}}}, "compliance.retry: unknown outcome"),
        ({"dispositions": [{"code": "mine", "label": "Mine", "contact_made": False}]}, "contact_made = false is not used"),
        ({"compliance": {"safe_harbour_message": False}}, "compliance.safe_harbour_message: the shipped dialplan"),
        ({"compliance": {"opt_out_key": False}}, "compliance.opt_out_key"),
        ({"compliance": {"info_message_within_s": 5}}, "compliance.info_message_within_s: not enforced"),
        ({"compliance": {"presentable_cli_required": False}}, "compliance.presentable_cli_required"),
    ],
)
def test_keys_that_would_do_nothing_are_refused(extra: dict[str, Any], problem: str) -> None:
    with pytest.raises(DefinitionError, match=problem):
        _definition(**extra)
    # A retry rule for a campaign's own disposition code is known.
    own = [{"code": "mine", "label": "Mine", "final": False, "retry": True}]
    assert _definition(dispositions=own, retry={"rules": {"mine": {"delays_min": [5]}}}).retry.rules


def test_dnc_expiry_days_dates_the_entries_the_engine_adds() -> None:
    rules = CampaignRules(_definition(regulation="none", compliance={"dnc_expiry_days": 30}))
    now = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
    decision = rules.decide(
        attempt_id="a", campaign_id=1, contact_id=1, number="+12125550101", contact_zone=None,
        outcome=Outcome.ANSWERED, history=[], disposition="refused", now=now,
    )
    assert decision.dnc is not None and decision.dnc_expires_at == now + timedelta(days=30)
    forever = CampaignRules(_definition(regulation="none")).decide(
        attempt_id="a", campaign_id=1, contact_id=1, number="+12125550101", contact_zone=None,
        outcome=Outcome.ANSWERED, history=[], disposition="refused", now=now,
    )
    assert forever.dnc is not None and forever.dnc_expires_at is None


def test_campaign_show_prints_description_region_and_labels(database_url: str, tmp_path: Path) -> None:
    campaign = tmp_path / "keys.toml"
    campaign.write_text(
        'name = "keys"\ncaller_id = "+12025550100"\ndescription = "Spring [renewals]"\n'
        'alt_numbers_on = ["busy"]\n'
        '[[dispositions]]\ncode = "moved"\nlabel = "Moved away"\n'
    )
    assert dialer(database_url, "campaign", "apply", str(campaign)).exit_code == 0
    shown = dialer(database_url, "campaign", "show", "keys")
    assert "Spring [renewals]" in shown.stdout and "moved (Moved away)" in shown.stdout
    assert "read in US; next number after: busy" in shown.stdout


def test_stored_settings_validate_again() -> None:
    """What `campaign apply` stores (every field, defaults included) is accepted again by the
    engine: the value checks do not mistake a stored default for a key given."""
    own = [{"code": "later", "label": "Later", "final": False, "retry": True, "retry_after_min": 30}]
    d = _definition(dispositions=own, retry={"rules": {"busy": {"retry": False}}}, default_region="GB")
    assert parse_definition(d.model_dump(mode="json")) == d
