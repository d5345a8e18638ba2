"""Structured logs: one JSON object per line. Never message bodies, never secrets."""
from __future__ import annotations

import json
import logging
import re
import sys

SECRET = re.compile(r"(access_token|password|syt_[A-Za-z0-9_]+|Bearer\s+\S+)", re.I)
NOISY = ("nio", "peewee", "apscheduler", "aiosqlite", "asyncio", "sqlalchemy")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                "logger": record.name, "msg": _scrub(record.getMessage())}
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            data["exc"] = _scrub(self.formatException(record.exc_info))
        return json.dumps(data, default=str)


def _scrub(text: str) -> str:
    return SECRET.sub("[redacted]", text)


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that log statements with their parameters or event contents at DEBUG (aiosqlite,
    # SQLAlchemy, nio) would put message texts and case texts in the log: never below WARNING.
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
