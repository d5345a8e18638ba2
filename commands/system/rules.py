"""Pure helpers for the system commands."""
from __future__ import annotations

from datetime import datetime, timedelta


def round_trip_ms(sent: datetime, received: datetime) -> int:
    """Milliseconds from the message's server timestamp to now, never negative (clock skew)."""
    return max(0, round((received - sent).total_seconds() * 1000))


def format_uptime(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    parts += [f"{minutes}m", f"{seconds}s"] if not days else [f"{minutes}m"]
    return " ".join(parts)
