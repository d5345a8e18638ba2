"""Files kept at rest encrypted (AES-256-GCM, a fresh nonce per file, the key from the config),
written and read in chunks so a large file never sits in memory while it is stored. A handle is a
random name: the file system says nothing of whose file it is or what it holds. A changed file or a
wrong key raises ValueError."""
from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from functools import cached_property, partial
from pathlib import Path

from Crypto.Cipher import AES

MAGIC = b"KRV1"
NONCE = 12
TAG = 16
CHUNK = 1 << 20
_HANDLE = re.compile(r"^[0-9a-f]{32}$")


class FileVault:
    def __init__(self, folder: Path, key: bytes | Callable[[], bytes], max_bytes: int) -> None:
        """`key` is the key, or what derives it when the first file is kept or read."""
        if isinstance(key, bytes) and len(key) != 32:
            raise ValueError("the file key must be 32 bytes")
        self.folder = folder
        self._key_source = key
        self.max_bytes = max_bytes

    @cached_property
    def _key(self) -> bytes:
        return self._key_source if isinstance(self._key_source, bytes) else self._key_source()

    def _cipher(self, nonce: bytes, handle: str):  # noqa: ANN202 - pycryptodome's GCM object
        """AES-256-GCM bound to this file's handle (the handle is authenticated with the data)."""
        cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce, mac_len=TAG)
        cipher.update(MAGIC + handle.encode())
        return cipher

    def _path(self, handle: str) -> Path:
        if not _HANDLE.match(handle):
            raise ValueError("not a vault handle")
        return self.folder / f"{handle}.bin"

    def keep(self, source: Path) -> str:
        """An encrypted copy of `source` (then deleted); returns its handle."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = secrets.token_hex(16)
        nonce = os.urandom(NONCE)
        enc = self._cipher(nonce, handle)
        target = self._path(handle)
        partial = target.with_suffix(".part")
        with source.open("rb") as src, open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            out.write(MAGIC + nonce)
            while chunk := src.read(CHUNK):
                out.write(enc.encrypt(chunk))
            out.write(enc.digest())
        partial.replace(target)
        source.unlink(missing_ok=True)
        return handle

    def read(self, handle: str) -> bytes:
        """The plain bytes (for sending); raises if the file was changed or the key is wrong."""
        data = self._path(handle).read_bytes()
        if data[:len(MAGIC)] != MAGIC:
            raise ValueError("not a vault file")
        nonce, body, tag = data[len(MAGIC):len(MAGIC) + NONCE], data[len(MAGIC) + NONCE:-TAG], data[-TAG:]
        return self._cipher(nonce, handle).decrypt_and_verify(body, tag)

    def decrypt_to(self, handle: str, target: Path) -> int:
        """The plain file written to `target` (mode 0600) in chunks, for sending it without holding
        it in memory; the tag is checked at the end and a changed file leaves nothing behind.
        Returns its size; FileNotFoundError when it was erased."""
        source = self._path(handle)
        size = source.stat().st_size - len(MAGIC) - NONCE - TAG
        with source.open("rb") as src:
            if src.read(len(MAGIC)) != MAGIC:
                raise ValueError("not a vault file")
            nonce = src.read(NONCE)
            src.seek(-TAG, os.SEEK_END)
            tag = src.read(TAG)
            src.seek(len(MAGIC) + NONCE)
            dec = self._cipher(nonce, handle)
            try:
                with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
                    left = size
                    while left > 0:
                        chunk = src.read(min(CHUNK, left))
                        left -= len(chunk)
                        out.write(dec.decrypt(chunk))
                    dec.verify(tag)
            except BaseException:
                target.unlink(missing_ok=True)
                raise
        return size

    def erase(self, handle: str) -> None:
        self._path(handle).unlink(missing_ok=True)

    def handles(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.bin") if _HANDLE.match(p.stem))


def derive_key(passphrase: str) -> bytes:
    import hashlib

    return hashlib.scrypt(passphrase.encode(), salt=b"kring files at rest", n=2**14, r=8, p=1, dklen=32)


def load_key(key: str | None, key_file: Path, *,
             passphrase: str | None = None) -> tuple[bytes | Callable[[], bytes], bool]:
    """The configured key (32 bytes, base64 or hex), else one derived from the passphrase that
    also guards the bot's crypto store, else one made once and kept in `key_file` (mode 0600).
    Returns (key, kept_in_file). A passphrase's key comes as the call that derives it: scrypt
    takes 16 MiB and some 40 ms, which a start need not spend (FileVault derives it when used)."""
    import base64
    import binascii

    if key:
        text = key.strip()
        try:
            raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text + "=" * (-len(text) % 4))
        except (ValueError, binascii.Error):
            raise ValueError("files.key must be 32 bytes, written as base64 or 64 hex digits") from None
        if len(raw) != 32:
            raise ValueError("files.key must be 32 bytes, written as base64 or 64 hex digits")
        return raw, False
    if passphrase:
        return partial(derive_key, passphrase), False
    if key_file.exists():
        return bytes.fromhex(key_file.read_text().strip()), True
    key_file.parent.mkdir(parents=True, exist_ok=True)
    raw = os.urandom(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "w") as f:
        f.write(raw.hex() + "\n")
    return raw, True
