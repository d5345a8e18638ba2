"""How long to wait before trying the homeserver again: doubling from a short first wait, never
above a cap. The cap (matrix.retry_max_seconds) bounds how late the bot notices the homeserver
is back after an outage of any length: a try costs one refused connection while it is down."""
from __future__ import annotations

FIRST_WAIT = 0.5


def retry_delay(failures: int, cap: float, first: float = FIRST_WAIT) -> float:
    """The wait after `failures` failures in a row (1 for the first): first, 2 x first, ... cap."""
    return min(cap, first * 2 ** min(max(failures, 1) - 1, 16))
