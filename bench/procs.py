"""Bots as processes of their own, for bench/footprint.py and bench/burst.py: start one, know when
it is ready, read its memory and CPU time from /proc, stop it.

Kring runs as `python -m bot run -c CONFIG` and is ready when it logs "ready" (its first sync
handled: from then on it answers commands); the echo bot (bench/echo_bot.py) prints `ready` after
its first sync. Time to ready is counted from just before the process is spawned."""
from __future__ import annotations

import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def memory_mib(pid: int) -> tuple[float, float]:
    """(resident set now, its peak so far) in MiB, from /proc/PID/status (VmRSS, VmHWM)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


@dataclass
class BotProcess:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_marker: str = "ready"
    proc: asyncio.subprocess.Process | None = None
    spawned_at: float = 0.0
    ready_after: float | None = None
    lines: list[str] = field(default_factory=list)
    log_path: Path | None = None  # every line of output also written here (bench/burst.py --keep)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _readers: list[asyncio.Task] = field(default_factory=list)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 120) -> float:
        """Spawn, wait until ready; returns the seconds from spawn to ready."""
        self.spawned_at = time.perf_counter()
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **self.env}, cwd=str(ROOT))
        self._readers = [asyncio.create_task(self._read(s)) for s in (self.proc.stdout, self.proc.stderr)]
        waiter = asyncio.create_task(self._ready.wait())
        died = asyncio.create_task(self.proc.wait())
        await asyncio.wait({waiter, died}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        died.cancel()
        if self.ready_after is None:
            await self.stop()
            tail = "\n".join(self.lines[-20:])
            raise RuntimeError(f"{self.name} did not get ready within {timeout:.0f} s:\n{tail}")
        return self.ready_after

    async def _read(self, stream: asyncio.StreamReader) -> None:
        """Drain the pipe (a full pipe would block the bot), noting when the ready line comes."""
        log = self.log_path.open("a") if self.log_path else None
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            if log:
                log.write(text + "\n")
            if self.ready_after is None and (text == self.ready_marker or f'"msg": "{self.ready_marker}"' in text):
                self.ready_after = time.perf_counter() - self.spawned_at
                self._ready.set()
            if len(self.lines) < 2000:
                self.lines.append(text)
        if log:
            log.close()

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def memory(self) -> tuple[float, float]:
        return memory_mib(self.pid)

    async def idle(self, *, below: float = 0.02, for_s: float = 1.0, timeout: float = 120) -> None:
        """Until the process has used less than `below` of a core for `for_s` seconds."""
        started = last_at = time.monotonic()
        last, quiet_since = self.cpu(), None
        while time.monotonic() - started < timeout:
            await asyncio.sleep(0.25)
            now, used = time.monotonic(), self.cpu()
            busy = (used - last) / (now - last_at)
            last, last_at = used, now
            quiet_since = (quiet_since or now) if busy < below else None
            if quiet_since is not None and now - quiet_since >= for_s:
                return

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)
        self.ready_after = None
        self._ready = asyncio.Event()


def compile_kring() -> None:
    """Kring's modules byte-compiled, as `pip install` does for an installed bot (and nio is, in
    site-packages). Where PYTHONDONTWRITEBYTECODE is set, as in this machine's shells, a source
    checkout would otherwise be compiled anew at every start: about 0.1 s that no installed bot spends."""
    import compileall

    for package in ("api", "bot", "commands", "storage"):
        compileall.compile_dir(ROOT / package, quiet=1)


def kring_process(home: Path, homeserver: str, user_id: str, password: str, coordinators: list[str],
                  *, encryption: bool = True, profile: Path | None = None) -> BotProcess:
    """The real bot with a config file of its own under `home` (SQLite, store, log level INFO),
    its modules compiled as an installed bot's are."""
    compile_kring()
    home.mkdir(parents=True, exist_ok=True)
    config = {
        "matrix": {"homeserver": homeserver, "user_id": user_id, "password": password,
                   "store_path": str(home / "store"), "encryption": encryption,
                   "key_passphrase": "bench-passphrase"},
        "storage": {"database_url": f"sqlite+aiosqlite:///{home / 'kring.db'}"},
        "bot": {"coordinators": coordinators, "timezone": "Europe/Amsterdam", "log_level": "INFO"},
    }
    path = home / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []  # written when the bot stops
    return BotProcess("kring", [sys.executable, *profiler, "-m", "bot", "run", "-c", str(path)])


def libraries_process(*modules: str) -> BotProcess:
    """A process that imports these modules, says `ready` and waits: what the libraries alone take."""
    code = f"import {', '.join(modules)}, time; print('ready', flush=True); time.sleep(3600)"
    return BotProcess("libraries", [sys.executable, "-c", code])


def echo_process(homeserver: str, user_id: str, device_id: str, token: str, *, gap_fill: bool) -> BotProcess:
    argv = [sys.executable, str(ROOT / "bench" / "echo_bot.py"), homeserver, user_id, device_id]
    return BotProcess("echo", argv + (["--gap-fill"] if gap_fill else []), env={"KRING_BENCH_TOKEN": token})
