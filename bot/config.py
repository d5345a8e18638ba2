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
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, ValidationInfo, field_validator

from api import feedback_forms, i18n, yaml_files
from api.converters import offsets_of
from api.methods import Method, MethodError, configured

ENV_PREFIX = "KRING__"
USER_ID = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d+)?$")


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


def _check_language(value: str | None) -> str | None:
    """A language is one whose catalogue ships in api/locales (see the README's Languages)."""
    if value is None:
        return None
    found = i18n.known_language(value)
    if found is None:
        raise ValueError(f"unknown language {value!r} (one of {', '.join(i18n.languages())})")
    return found


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
    access_token: SecretStr | None = Field(None, validate_default=True)
    device_name: str = "Kring"
    store_path: Path = Path("data/store")
    encryption: bool = True
    recovery_key: SecretStr | None = None
    key_passphrase: SecretStr | None = None
    request_timeout_seconds: float = 60
    # The longest wait between two tries to reach the homeserver (sync and sends): after an
    # outage of any length the bot is back within this many seconds of the homeserver.
    retry_max_seconds: float = Field(2.0, gt=0, le=60)

    _uid = field_validator("user_id")(_check_user_id)

    @property
    def keys_file(self) -> Path:
        """The cross-signing keys: encrypted with key_passphrase, or without one plain (mode 0600)."""
        return self.store_path / "cross_signing.keys"

    @field_validator("homeserver")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("access_token")
    @classmethod
    def _credentials(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # A field check, not a model check: pydantic skips model checks when any field fails,
        # and every problem must be listed at once.
        if value is None and "password" in info.data and info.data["password"] is None:
            raise ValueError("set matrix.password or matrix.access_token (or KRING__MATRIX__PASSWORD)")
        return value


class StorageConfig(_Section):
    database_url: str = "sqlite+aiosqlite:///data/kring.db"
    # Days the content of a sent message (texts, files) is kept; then only the fact it was sent.
    keep_sent_days: float = Field(7, ge=0)

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db")
        return value


class AutoApproveConfig(_Section):
    """Join requests from these Matrix IDs, or from any account on these homeservers, need no coordinator."""

    user_ids: list[str] = []
    domains: list[str] = []

    _uids = field_validator("user_ids")(lambda cls, v: [_check_user_id(x) for x in v])

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        for domain in value:
            if not re.match(r"^[A-Za-z0-9.\-]+(:\d+)?$", domain):
                raise ValueError(f"{domain!r} is not a homeserver name like example.org")
        return [d.lower() for d in value]


class PollsConfig(_Section):
    """Member polls and topic votes (issue 20)."""

    members_may_create: bool = False  # any member may start a poll, not only coordinators
    topic_votes: int = Field(3, ge=1, le=100)  # open topics one member may vote for at once


class NetworkConfig(_Section):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")
    name: str
    language: str | None = None
    timezone: str | None = None
    coordinators: list[str] = []
    # issue 3: members and rooms
    house_rules: str = ""  # empty: the catalogue's default rules (membership.default_rules)
    auto_approve: AutoApproveConfig = AutoApproveConfig()
    encrypted: bool | None = None  # the network's rooms; None follows matrix.encryption
    # issue 18: event reminders by DM this long before the start (an event's form may override them)
    reminders: list[str] = ["7d", "1d", "1h"]
    polls: PollsConfig = PollsConfig()

    _uids = field_validator("coordinators")(lambda cls, v: [_check_user_id(x) for x in v])

    @field_validator("reminders")
    @classmethod
    def _reminders(cls, value: list[str]) -> list[str]:
        if offsets_of(", ".join(value) or "none") is None:
            raise ValueError("each reminder is a length of time before the start, such as 7d, 1d, 1h or 30m")
        return value

    def reminder_minutes(self) -> tuple[int, ...]:
        return offsets_of(", ".join(self.reminders) or "none") or ()
    _zone = field_validator("timezone")(lambda cls, v: v if v is None else _check_zone(v))
    _language = field_validator("language")(lambda cls, v: _check_language(v))


class BotConfig(_Section):
    command_prefix: str = Field("!", min_length=1, max_length=3)
    coordinators: list[str] = []
    timezone: str = "Europe/Amsterdam"
    language: str = "en"
    command_max_age_seconds: int = Field(600, ge=10)
    schedule_catch_up_hours: float = Field(24, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    _uids = field_validator("coordinators")(lambda cls, v: [_check_user_id(x) for x in v])
    _zone = field_validator("timezone")(_check_zone)
    _language = field_validator("language")(lambda cls, v: _check_language(v))


class FeedbackConfig(_Section):
    """Feedback after every meeting: when it is asked, until when it is taken, how often those
    who have not answered are reminded, and where forms of your own live."""

    delay_hours: float = Field(1, ge=0)  # after the event's end, participants are asked
    deadline_days: int = Field(7, ge=1, le=365)  # the default deadline, after the event's end
    nudges: int = Field(1, ge=0, le=5)  # reminders before the deadline, only to those who have not answered
    forms_dir: Path | None = None  # more forms, one YAML file each (as api/feedback_forms/default.yaml)

    @field_validator("forms_dir")
    @classmethod
    def _forms(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if not value.is_dir():
            raise ValueError(f"{value} is not a folder")
        for path in sorted(value.glob("*.yaml")):
            try:
                feedback_forms.parse(path.stem, _yaml_of(path))
            except feedback_forms.FormError as err:
                raise ValueError(str(err)) from None
        return value


def _yaml_of(path: Path) -> dict[str, Any]:
    try:
        return yaml_files.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML") from err
class FilesConfig(_Section):
    """Files people send (a case's PDF): kept encrypted at rest in `path` with `key`."""

    # Empty: a folder "files" beside matrix.store_path.
    path: Path | None = None
    # 32 bytes as base64 or 64 hex digits (KRING__FILES__KEY). Empty: derived from
    # matrix.key_passphrase; without that too, one is made at the first start and kept in
    # files.key beside the folder (mode 0600), with a warning in the log.
    key: SecretStr | None = None
    max_mb: float = Field(64, gt=0, le=1024)

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)


class CasesConfig(_Section):
    """How long confidential case texts and files are kept."""

    keep_days_after_session: float = Field(30, ge=0)
    keep_days_unscheduled: float = Field(180, ge=1)
    warn_days_before: float = Field(7, ge=0)


class Config(_Section):
    matrix: MatrixConfig
    storage: StorageConfig = StorageConfig()
    bot: BotConfig = BotConfig()
    feedback: FeedbackConfig = FeedbackConfig()
    files: FilesConfig = FilesConfig()
    cases: CasesConfig = CasesConfig()
    networks: list[NetworkConfig] = []
    # Methods added to the shipped ones (api/methods/*.yaml): a YAML file's path (relative to the
    # config file) or an inline mapping with key, name, description and phases.
    methods: list[str | dict[str, Any]] = []
    _methods: dict[str, Method] | None = PrivateAttr(None)

    @property
    def files_path(self) -> Path:
        return self.files.path or self.matrix.store_path.parent / "files"

    def network_ids(self) -> list[str]:
        return [n.id for n in self.networks] or ["main"]

    def effective_networks(self) -> list[NetworkConfig]:
        """The configured networks, or the one implicit network "main" when none is configured."""
        return list(self.networks) or [NetworkConfig(id="main", name="Main")]

    @field_validator("networks")
    @classmethod
    def _unique_networks(cls, value: list[NetworkConfig]) -> list[NetworkConfig]:
        ids = [n.id for n in value]
        if len(ids) != len(set(ids)):
            raise ValueError("every network needs its own id")
        return value


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
        data = yaml_files.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError([("(file)", _yaml_problem(exc))]) from None
    if not isinstance(data, dict):
        raise ConfigError([("(file)", "the top level must be a mapping of sections")])
    _apply_env(data, dict(os.environ if environ is None else environ))
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_describe(err) for err in exc.errors()]) from None
    config_methods(config, Path(path).resolve().parent)
    return config


def config_methods(config: Config, base: Path) -> dict[str, Method]:
    """The configured methods, checked (ConfigError naming the entry) and remembered on the config."""
    try:
        found = configured(config.methods, base)
    except MethodError as exc:
        text = str(exc)
        key, _, msg = text.partition(": ")
        raise ConfigError([(key.replace("[", ".").replace("]", ""), msg)]) from None
    config._methods = found
    return found


def methods_of(config: Config) -> dict[str, Method]:
    """What load_config found under `methods:` (a Config made in code checks them here)."""
    return config._methods if config._methods is not None else config_methods(config, Path.cwd())


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What and where, without quoting the offending line: it may hold a password."""
    parts = []
    for text, mark in ((getattr(exc, "context", None), getattr(exc, "context_mark", None)),
                       (getattr(exc, "problem", None), getattr(exc, "problem_mark", None))):
        if text:
            parts.append(f"{text} (line {mark.line + 1}, column {mark.column + 1})" if mark else text)
    return "not valid YAML: " + ("; ".join(parts) or "syntax error")


def _describe(err: dict[str, Any]) -> tuple[str, str]:
    key = ".".join(str(p) for p in err["loc"]) or "(top)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling against config.example.yaml)"
    elif err["type"] == "missing":
        msg = "required key is missing"
    return key, msg
