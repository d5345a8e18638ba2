"""The configuration a local Synapse (bot/dev/synapse.py) is started with: homeserver.yaml and
its logging, for 127.0.0.1 only, with the rate limits raised unless a test checks throttling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_HIGH = {"per_second": 10_000, "burst_count": 100_000}
# Every rc_* limiter Synapse 1.163 reads (synapse/config/ratelimiting.py).
# There is no rc_send_to_device in this version.
UNTHROTTLED_LIMITS: dict[str, Any] = {
    "rc_message": _HIGH,
    "rc_registration": _HIGH,
    "rc_registration_token_validity": _HIGH,
    "rc_login": {"address": _HIGH, "account": _HIGH, "failed_attempts": _HIGH},
    "rc_admin_redaction": _HIGH,
    "rc_joins": {"local": _HIGH, "remote": _HIGH},
    "rc_joins_per_room": _HIGH,
    "rc_key_requests": _HIGH,
    "rc_3pid_validation": _HIGH,
    "rc_invites": {"per_room": _HIGH, "per_user": _HIGH, "per_issuer": _HIGH},
    "rc_third_party_invite": _HIGH,
    "rc_media_create": _HIGH,
    "rc_presence": {"per_user": _HIGH},
    "rc_delayed_event_mgmt": _HIGH,
    "rc_room_creation": _HIGH,
    "rc_reports": _HIGH,
    "rc_user_directory": _HIGH,
    "rc_profile": _HIGH,
}


def log_settings(log_path: Path) -> dict[str, Any]:
    return {
        "version": 1,
        "formatters": {
            "precise": {
                "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s"
                " - %(request)s - %(message)s"
            }
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "precise",
                "filename": str(log_path),
                "encoding": "utf8",
            }
        },
        "loggers": {"synapse.storage.SQL": {"level": "INFO"}},
        "root": {"level": "INFO", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


def homeserver_config(d: Path, server_name: str, port: int, key_path: Path, log_config: Path, *,
                      rate_limited: bool) -> dict[str, Any]:
    config: dict[str, Any] = {
        "server_name": server_name,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(d / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(d / "homeserver.db")}},
        "log_config": str(log_config),
        "media_store_path": str(d / "media_store"),
        "max_upload_size": "64M",
        "signing_key_path": str(key_path),
        "registration_shared_secret_path": str(d / "registration_shared_secret"),
        "macaroon_secret_key_path": str(d / "macaroon_secret_key"),
        "form_secret_path": str(d / "form_secret"),
        "enable_registration": False,
        "report_stats": False,
        "enable_metrics": False,
        "url_preview_enabled": False,
        "presence": {"enabled": False},
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        # Local only: nothing to send over federation.
        "federation_sender_instances": [],
        # Cheap password hashing: registering and logging in are much faster.
        "bcrypt_rounds": 4,
    }
    if not rate_limited:
        config.update(UNTHROTTLED_LIMITS)
    return config
