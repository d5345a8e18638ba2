"""Configuration: a pydantic model loaded from YAML, with secrets from environment variables.

Any key can be overridden by an environment variable named KRING__SECTION__KEY, for example
KRING__MATRIX__PASSWORD or KRING__STORAGE__DATABASE_URL.
"""
from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

ENV_PREFIX = "KRING__"
USER_ID = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d+)?$")
LANGUAGES = ("en", "nl", "nb")


class ConfigError(Exception):
    """Every problem in a config, each with the key path it concerns."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{key}: {msg}" for key, msg in problems))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_user_id(value: str) -> str:
    if not USER_ID.match(value):
        raise ValueError(f"{value!r} is not a Matrix ID like @name:example.org")
    return value


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(value, sorted(available_timezones()), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(close[:3])}?)" if close else " (use an IANA name like Europe/Amsterdam)"
        raise ValueError(f"unknown timezone {value!r}{hint}") from None
    return value


class MatrixConfig(_Section):
    homeserver: str = Field(description="Base URL of the homeserver")
    user_id: str
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    device_name: str = "Kring"
    store_path: Path = Path("data/store")
    encryption: bool = True
    recovery_key: SecretStr | None = None
    key_passphrase: SecretStr | None = None
    request_timeout_seconds: float = 60

    _uid = field_validator("user_id")(_check_user_id)

    @field_validator("homeserver")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _credentials(self) -> MatrixConfig:
        if self.password is None and self.access_token is None:
            raise ValueError("set matrix.password or matrix.access_token (or KRING__MATRIX__PASSWORD)")
        return self


class StorageConfig(_Section):
    database_url: str = "sqlite+aiosqlite:///data/kring.db"

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db")
        return value


class NetworkConfig(_Section):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")
    name: str
    language: Literal["en", "nl", "nb"] | None = None
    timezone: str | None = None
    coordinators: list[str] = []

    _uids = field_validator("coordinators")(lambda cls, v: [_check_user_id(x) for x in v])
    _zone = field_validator("timezone")(lambda cls, v: v if v is None else _check_zone(v))


class BotConfig(_Section):
    command_prefix: str = Field("!", min_length=1, max_length=3)
    coordinators: list[str] = []
    timezone: str = "Europe/Amsterdam"
    language: Literal["en", "nl", "nb"] = "en"
    command_max_age_seconds: int = Field(600, ge=10)
    schedule_catch_up_hours: float = Field(24, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    _uids = field_validator("coordinators")(lambda cls, v: [_check_user_id(x) for x in v])
    _zone = field_validator("timezone")(_check_zone)


class Config(_Section):
    matrix: MatrixConfig
    storage: StorageConfig = StorageConfig()
    bot: BotConfig = BotConfig()
    networks: list[NetworkConfig] = []

    def network_ids(self) -> list[str]:
        return [n.id for n in self.networks] or ["main"]


def _apply_env(data: dict[str, Any], environ: dict[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX):].lower().split("__")
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = value


def load_config(path: str | Path, environ: dict[str, str] | None = None) -> Config:
    """Read, merge the environment and validate; raises ConfigError listing every problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([("(file)", f"cannot read {path}: {exc.strerror}")]) from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError([("(file)", f"not valid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise ConfigError([("(file)", "the top level must be a mapping of sections")])
    _apply_env(data, dict(os.environ if environ is None else environ))
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_describe(err) for err in exc.errors()]) from None


def _describe(err: dict[str, Any]) -> tuple[str, str]:
    key = ".".join(str(p) for p in err["loc"]) or "(top)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling against config.example.yaml)"
    elif err["type"] == "missing":
        msg = "required key is missing"
    return key, msg
