"""Configuration: sections validated with msgspec (bot/config_check.py) from YAML, with secrets
from environment variables.

Any key can be overridden by an environment variable named KRING__SECTION__KEY, for example
KRING__MATRIX__PASSWORD or KRING__STORAGE__DATABASE_URL.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import msgspec
import yaml

from api import feedback_forms, i18n, yaml_files
from api.converters import offsets_of
from api.methods import Method, MethodError, configured
from bot.config_check import Check, ConfigError, Secret, Section, as_dict, each, plain

__all__ = ["Config", "ConfigError", "Secret", "as_dict", "load_config", "methods_of"]

ENV_PREFIX = "KRING__"
USER_ID = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d+)?$")


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
        import difflib  # only for a mistyped zone: not loaded by every start

        close = difflib.get_close_matches(value, sorted(available_timezones()), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(close[:3])}?)" if close else " (use an IANA name like Europe/Amsterdam)"
        raise ValueError(f"unknown timezone {value!r}{hint}") from None
    return value


def _check_zone_or_none(value: str | None) -> str | None:
    return None if value is None else _check_zone(value)


def _check_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


def _check_credentials(value: Secret | None, earlier: dict[str, Any]) -> Secret | None:
    # Checked even when the key is absent; not when the password itself was wrong.
    if value is None and earlier.get("password", "") is None:
        raise ValueError("set matrix.password or matrix.access_token (or KRING__MATRIX__PASSWORD)")
    return value


def _check_driver(value: str) -> str:
    if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ValueError("use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db")
    return value


def _check_domain(domain: str) -> str:
    if not re.match(r"^[A-Za-z0-9.\-]+(:\d+)?$", domain):
        raise ValueError(f"{domain!r} is not a homeserver name like example.org")
    return domain.lower()


def _check_reminders(value: list[str]) -> list[str]:
    if offsets_of(", ".join(value) or "none") is None:
        raise ValueError("each reminder is a length of time before the start, such as 7d, 1d, 1h or 30m")
    return value


def _check_forms(value: Path | None) -> Path | None:
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


def _unique_networks(value: list[NetworkConfig]) -> list[NetworkConfig]:
    ids = [n.id for n in value]
    if len(ids) != len(set(ids)):
        raise ValueError("every network needs its own id")
    return value


def _range(**bounds: float) -> msgspec.Meta:
    return msgspec.Meta(**bounds)


UserId = Annotated[str, plain(_check_user_id)]
UserIds = Annotated[list[str], each(_check_user_id)]


class MatrixConfig(Section):
    homeserver: Annotated[str, plain(_check_url)]  # the homeserver's base URL
    user_id: UserId
    password: Secret | None = None
    access_token: Annotated[Secret | None, Check(_check_credentials)] = None
    device_name: str = "Kring"
    store_path: Path = Path("data/store")
    encryption: bool = True
    recovery_key: Secret | None = None
    key_passphrase: Secret | None = None
    request_timeout_seconds: float = 60
    # The longest wait between two tries to reach the homeserver (sync and sends): after an
    # outage of any length the bot is back within this many seconds of the homeserver.
    retry_max_seconds: Annotated[float, _range(gt=0, le=60)] = 2.0

    @property
    def keys_file(self) -> Path:
        """The cross-signing keys: encrypted with key_passphrase, or without one plain (mode 0600)."""
        return self.store_path / "cross_signing.keys"


class StorageConfig(Section):
    database_url: Annotated[str, plain(_check_driver)] = "sqlite+aiosqlite:///data/kring.db"
    # Days the content of a sent message (texts, files) is kept; then only the fact it was sent.
    keep_sent_days: Annotated[float, _range(ge=0)] = 7


class AutoApproveConfig(Section):
    """Join requests from these Matrix IDs, or from any account on these homeservers, need no coordinator."""

    user_ids: UserIds = []
    domains: Annotated[list[str], each(_check_domain)] = []


class PollsConfig(Section):
    """Member polls and topic votes (issue 20)."""

    members_may_create: bool = False  # any member may start a poll, not only coordinators
    topic_votes: Annotated[int, _range(ge=1, le=100)] = 3  # open topics one member may vote for at once


class NetworkConfig(Section):
    id: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")]
    name: str
    language: Annotated[str | None, plain(_check_language)] = None
    timezone: Annotated[str | None, plain(_check_zone_or_none)] = None
    coordinators: UserIds = []
    # issue 3: members and rooms
    house_rules: str = ""  # empty: the catalogue's default rules (membership.default_rules)
    auto_approve: AutoApproveConfig = msgspec.field(default_factory=AutoApproveConfig)
    encrypted: bool | None = None  # the network's rooms; None follows matrix.encryption
    # issue 18: event reminders by DM this long before the start (an event's form may override them)
    reminders: Annotated[list[str], plain(_check_reminders)] = msgspec.field(default_factory=lambda: ["7d", "1d", "1h"])
    polls: PollsConfig = msgspec.field(default_factory=PollsConfig)

    def reminder_minutes(self) -> tuple[int, ...]:
        return offsets_of(", ".join(self.reminders) or "none") or ()


class BotConfig(Section):
    command_prefix: Annotated[str, msgspec.Meta(min_length=1, max_length=3)] = "!"
    coordinators: UserIds = []
    timezone: Annotated[str, plain(_check_zone)] = "Europe/Amsterdam"
    language: Annotated[str, plain(_check_language)] = "en"
    command_max_age_seconds: Annotated[int, _range(ge=10)] = 600
    schedule_catch_up_hours: Annotated[float, _range(ge=0)] = 24
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class FeedbackConfig(Section):
    """Feedback after every meeting: when it is asked, until when it is taken, how often those
    who have not answered are reminded, and where forms of your own live."""

    delay_hours: Annotated[float, _range(ge=0)] = 1  # after the event's end, participants are asked
    deadline_days: Annotated[int, _range(ge=1, le=365)] = 7  # the default deadline, after the event's end
    nudges: Annotated[int, _range(ge=0, le=5)] = 1  # reminders before the deadline, only to those who have not answered
    # more forms, one YAML file each (as api/feedback_forms/default.yaml)
    forms_dir: Annotated[Path | None, plain(_check_forms)] = None


class FilesConfig(Section):
    """Files people send (a case's PDF): kept encrypted at rest in `path` with `key`."""

    # Empty: a folder "files" beside matrix.store_path.
    path: Path | None = None
    # 32 bytes as base64 or 64 hex digits (KRING__FILES__KEY). Empty: derived from
    # matrix.key_passphrase; without that too, one is made at the first start and kept in
    # files.key beside the folder (mode 0600), with a warning in the log.
    key: Secret | None = None
    max_mb: Annotated[float, _range(gt=0, le=1024)] = 64

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)


class CasesConfig(Section):
    """How long confidential case texts and files are kept."""

    keep_days_after_session: Annotated[float, _range(ge=0)] = 30
    keep_days_unscheduled: Annotated[float, _range(ge=1)] = 180
    warn_days_before: Annotated[float, _range(ge=0)] = 7


class Config(Section, dict=True):  # dict: room for the methods found (config_methods)
    matrix: MatrixConfig
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    bot: BotConfig = msgspec.field(default_factory=BotConfig)
    feedback: FeedbackConfig = msgspec.field(default_factory=FeedbackConfig)
    files: FilesConfig = msgspec.field(default_factory=FilesConfig)
    cases: CasesConfig = msgspec.field(default_factory=CasesConfig)
    networks: Annotated[list[NetworkConfig], plain(_unique_networks)] = []
    # Methods added to the shipped ones (api/methods/*.yaml): a YAML file's path (relative to the
    # config file) or an inline mapping with key, name, description and phases.
    methods: list[str | dict[str, Any]] = []

    @property
    def files_path(self) -> Path:
        return self.files.path or self.matrix.store_path.parent / "files"

    def network_ids(self) -> list[str]:
        return [n.id for n in self.networks] or ["main"]

    def effective_networks(self) -> list[NetworkConfig]:
        """The configured networks, or the one implicit network "main" when none is configured."""
        return list(self.networks) or [NetworkConfig(id="main", name="Main")]


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
    config = Config.validate(data)
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
    found = getattr(config, "_methods", None)
    return found if found is not None else config_methods(config, Path.cwd())


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What and where, without quoting the offending line: it may hold a password."""
    parts = []
    for text, mark in ((getattr(exc, "context", None), getattr(exc, "context_mark", None)),
                       (getattr(exc, "problem", None), getattr(exc, "problem_mark", None))):
        if text:
            parts.append(f"{text} (line {mark.line + 1}, column {mark.column + 1})" if mark else text)
    return "not valid YAML: " + ("; ".join(parts) or "syntax error")
