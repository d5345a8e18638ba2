"""Files people send, fetched from the media repository straight to disk in chunks: an encrypted
attachment is decrypted on the way (AES-CTR) and its SHA-256 checked, and a file larger than the
limit is abandoned as soon as it shows it is, so no file is ever held whole in memory."""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path
from urllib.parse import quote

import aiohttp
from Crypto.Cipher import AES

from api.files import Received
from bot.matrix.incoming import FileRef

log = logging.getLogger("kring.matrix")
CHUNK = 1 << 16


def _b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value.replace("+", "-").replace("/", "_") + "=" * (-len(value) % 4))


class MediaDownloads:
    def __init__(self, homeserver: str, token: callable, folder: Path, timeout_s: float = 300) -> None:
        self.homeserver = homeserver.rstrip("/")
        self._token = token
        self.folder = folder
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    def _urls(self, mxc: str) -> list[str]:
        server, _, media = mxc.removeprefix("mxc://").partition("/")
        path = f"{quote(server, safe='')}/{quote(media, safe='')}"
        # Authenticated media first (Synapse 1.120 and later freeze the old endpoints).
        return [f"{self.homeserver}/_matrix/client/v1/media/download/{path}",
                f"{self.homeserver}/_matrix/media/v3/download/{path}"]

    async def fetch(self, ref: FileRef, max_bytes: int) -> Received:
        """The file on disk (mode 0600), or path None with too_large when it exceeds `max_bytes`
        (by its declared size or while streaming). Raises ConnectionError when it cannot be had."""
        if ref.size is not None and ref.size > max_bytes:
            return Received(ref.name, ref.mimetype, ref.size, None, too_large=True)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = self.folder / f"in-{secrets.token_hex(8)}"
        try:
            size = await self._stream(ref, target, max_bytes)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        if size is None:
            target.unlink(missing_ok=True)
            return Received(ref.name, ref.mimetype, ref.size or max_bytes + 1, None, too_large=True)
        return Received(ref.name, ref.mimetype, size, target)

    async def _stream(self, ref: FileRef, target: Path, max_bytes: int) -> int | None:
        headers = {"Authorization": f"Bearer {self._token()}"}
        decryptor = digest = None
        if ref.key:
            if not (ref.iv and ref.sha256):
                raise ConnectionError("encrypted attachment without iv or hash")
            decryptor = AES.new(_b64(ref.key), AES.MODE_CTR, nonce=b"", initial_value=_b64(ref.iv))
            digest = hashlib.sha256()
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            for url in self._urls(ref.url):
                async with session.get(url, headers=headers) as resp:
                    if resp.status in (400, 404) and url != self._urls(ref.url)[-1]:
                        continue  # no authenticated media here: the older endpoint
                    if resp.status != 200:
                        raise ConnectionError(f"media download failed: {resp.status}")
                    size = 0
                    with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
                        async for chunk in resp.content.iter_chunked(CHUNK):
                            size += len(chunk)
                            if size > max_bytes:
                                return None
                            if decryptor is not None:
                                digest.update(chunk)
                                chunk = decryptor.decrypt(chunk)
                            out.write(chunk)
                    break
        if digest is not None and not hmac.compare_digest(digest.digest(), _b64(ref.sha256)):
            raise ConnectionError("encrypted attachment: hash mismatch")
        return size
