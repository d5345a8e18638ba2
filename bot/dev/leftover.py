"""Processes an earlier run left behind when it was killed hard (kill -9 skips every clean-up):
a homeserver still holding the port, or a demo still running. They are found by the pid files in
the data folder, checked against the process's own command line (a pid may have been reused by
an unrelated process), and stopped: SIGTERM, then SIGKILL. Linux (/proc) only; elsewhere nothing
is recognised, and the caller says what holds the port."""
from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

STOP_TIMEOUT = 15.0


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def _gone(pid: int) -> bool:
    """Ended (a zombie waiting for its parent counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def running_pid(pid_file: Path, *marks: str) -> int | None:
    """The pid in pid_file while that process runs and its command line holds every mark."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if pid == os.getpid():
        return None
    cmdline = _cmdline(pid)
    if cmdline is None or _gone(pid) or not all(mark in cmdline for mark in marks):
        return None
    return pid


async def stop(pid: int, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, wait up to `timeout` seconds, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while not _gone(pid) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if _gone(pid):
            return
