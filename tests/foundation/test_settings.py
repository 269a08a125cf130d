from __future__ import annotations

from pathlib import Path

import pytest

from dialer.settings import SettingsError, load_settings
from tests.foundation.helpers import dialer


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DIALER_DATABASE_URL", "DIALER_SETTINGS_FILE", "DIALER_AMI_PORT", "DIALER_AMI_SECRET"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_need_no_settings() -> None:
    settings = load_settings()
    assert settings.database_url is None
    assert settings.ami_port == 5038
    assert settings.engine_id


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_AMI_PORT", "6038")
    monkeypatch.setenv("DIALER_ENGINE_ID", "east-1")
    settings = load_settings()
    assert settings.ami_port == 6038
    assert settings.engine_id == "east-1"


def test_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_AMI_PORT", "not-a-port")
    with pytest.raises(SettingsError, match="DIALER_AMI_PORT"):
        load_settings()


def test_bad_database_url_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_DATABASE_URL", "mysql://root@localhost/x")
    with pytest.raises(SettingsError, match="DIALER_DATABASE_URL: .*postgresql"):
        load_settings()


def test_toml_file_and_unknown_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "dialer.toml"
    good.write_text('ami_host = "10.0.0.5"\nmetrics_port = 9200\n')
    settings = load_settings(good)
    assert settings.ami_host == "10.0.0.5"
    assert settings.metrics_port == 9200
    # the environment wins over the file
    monkeypatch.setenv("DIALER_AMI_PORT", "7000")
    assert load_settings(good).ami_port == 7000
    bad = tmp_path / "bad.toml"
    bad.write_text('ami_hostname = "x"\n')
    with pytest.raises(SettingsError, match="DIALER_AMI_HOSTNAME: is not a known setting"):
        load_settings(bad)


def test_missing_settings_file() -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(Path("/nonexistent/dialer.toml"))


def test_secret_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_AMI_SECRET", "hunter2-secret")
    monkeypatch.setenv("DIALER_AMI_PORT", "0")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "hunter2" not in str(info.value)
    monkeypatch.setenv("DIALER_AMI_PORT", "5038")
    settings = load_settings()
    assert "hunter2" not in repr(settings)
    assert settings.ami_secret.get_secret_value() == "hunter2-secret"


def test_cli_reports_invalid_setting_in_one_line() -> None:
    result = dialer(None, "campaign", "list", env={"DIALER_AMI_PORT": "99999"})
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "DIALER_AMI_PORT" in lines[0]


def test_cli_unreachable_database_is_one_line() -> None:
    result = dialer("postgresql://nobody@127.0.0.1:1/none", "campaign", "list")
    assert result.exit_code == 1
    assert "cannot reach PostgreSQL" in result.stderr
    assert "Traceback" not in result.output
