"""Service settings: environment variables prefixed `DIALER_`, an optional TOML file, defaults.

Precedence, highest first: environment, the TOML file (`DIALER_SETTINGS_FILE` or
`--settings`), defaults. No database URL means an embedded PostgreSQL under `data_dir`.
Invalid settings fail at start with one line naming the setting; secrets never print.
"""

from __future__ import annotations

import os
import socket
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from dialer.errors import UserError

ENV_PREFIX = "DIALER_"
# The settings file for the Settings() being built (set by load_settings, never os.environ).
_settings_file: ContextVar[str | None] = ContextVar("dialer_settings_file", default=None)
SETTINGS_FILE_ENV = "DIALER_SETTINGS_FILE"


class SettingsError(UserError):
    """A setting is missing or invalid; the message names it and never shows a secret."""


def _default_engine_id() -> str:
    return socket.gethostname().split(".")[0] or "engine"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; unset = embedded PostgreSQL under data_dir"
    )
    data_dir: Path = Field(
        default_factory=lambda: platformdirs.user_data_path("asterisk-dialer"),
        description="where the embedded PostgreSQL and local state live",
    )
    ami_host: str = Field(default="127.0.0.1", min_length=1)
    ami_port: int = Field(default=5038, ge=1, le=65535)
    ami_username: str = Field(default="dialer", min_length=1)
    ami_secret: SecretStr = Field(default=SecretStr("dialer"))
    metrics_port: int = Field(default=9108, ge=0, le=65535, description="0 disables the endpoint")
    mqtt_url: str | None = Field(default=None, description="mqtt://user:pass@host:1883; unset = off")
    engine_id: str = Field(default_factory=_default_engine_id, min_length=1, max_length=64)
    log_level: str = Field(default="INFO")
    log_format: str = Field(default="text", description="text, or json (one object per line)")
    loop_failure_limit_s: float = Field(
        default=60.0, gt=0, description="an engine loop failing or stalled this long stops the engine"
    )
    queue_setup: Literal["create", "check"] = Field(
        default="create",
        description="create: the engine adds campaign queues to queues_dialer.conf over AMI;"
                    " check: it only checks that they exist",
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        url = value.get_secret_value()
        if not url.startswith(("postgresql://", "postgresql+asyncpg://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("mqtt://", "mqtts://")):
            raise ValueError("must be an mqtt:// or mqtts:// URL")
        return value

    @field_validator("log_format")
    @classmethod
    def _check_log_format(cls, value: str) -> str:
        if value not in ("text", "json"):
            raise ValueError("must be text or json")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = _settings_file.get() or os.environ.get(SETTINGS_FILE_ENV)
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_file)))
        return tuple(sources)


def load_settings(settings_file: Path | None = None, **overrides: Any) -> Settings:
    """Load and validate settings, raising SettingsError with one clear line.

    `settings_file` (the CLI's --settings) wins over DIALER_SETTINGS_FILE.
    """
    if settings_file is not None and not settings_file.is_file():
        raise SettingsError(f"settings file {settings_file} does not exist")
    file_name = str(settings_file) if settings_file is not None else os.environ.get(SETTINGS_FILE_ENV)
    if file_name and not Path(file_name).is_file():
        raise SettingsError(f"{SETTINGS_FILE_ENV}: file {file_name} does not exist")
    token = _settings_file.set(file_name)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    except ValueError as exc:  # e.g. a TOML syntax error
        raise SettingsError(f"settings file {file_name}: {exc}") from None
    finally:
        _settings_file.reset(token)


def _describe(exc: ValidationError) -> str:
    """One line per problem, naming the environment variable; never the value of a secret."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "settings"
        name = f"{ENV_PREFIX}{field.upper()}"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "is not a known setting"
        lines.append(f"invalid setting {name}: {message}")
    return "; ".join(lines)
