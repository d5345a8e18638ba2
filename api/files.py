"""Files people send, and the place they are kept: a feature sees a received file as a path on
disk (streamed there, decrypted, its size checked: never held in memory) and keeps what it wants
in the vault (encrypted at rest with a key from the config), which it reaches through the context.
How long texts and files of a confidential kind stay is the configured `Retention`."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Received:
    """A file sent in the conversation. `path` is None when it was larger than the limit (nothing
    of it is kept) or could not be fetched; the runtime deletes the path after the step."""

    name: str
    mimetype: str
    size: int
    path: Path | None
    too_large: bool = False

    def starts_with(self, magic: bytes, within: int = 1024) -> bool:
        """Whether `magic` occurs in the first `within` bytes (a PDF's %PDF- may follow some junk)."""
        if self.path is None:
            return False
        with self.path.open("rb") as f:
            return magic in f.read(within)


class Vault(Protocol):
    """Encrypted files at rest. A handle is an opaque name; `erase` is immediate and final."""

    max_bytes: int
    folder: Path

    def keep(self, source: Path) -> str: ...

    def read(self, handle: str) -> bytes: ...

    def decrypt_to(self, handle: str, target: Path) -> int: ...

    def erase(self, handle: str) -> None: ...

    def handles(self) -> list[str]: ...


@dataclass(frozen=True)
class Retention:
    """How long confidential texts and files are kept (config `cases:`)."""

    after_session: timedelta = timedelta(days=30)
    unscheduled: timedelta = timedelta(days=180)
    warn_before: timedelta = timedelta(days=7)
