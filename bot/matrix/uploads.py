"""Files to the homeserver's media repository, each distinct file once.

In a rush of registrations every confirmed member gets the same .ics file; uploading it once and
pointing every message at the same media saves the homeserver an upload per member. Only the same
bytes (same name and type) are shared, and an upload made for an encrypted room (an encrypted
attachment, its key travelling inside each room's encrypted message) is never handed to a plain
room, nor a plain one to an encrypted room.
"""
from __future__ import annotations

import asyncio
import copy
import hashlib
import io
from collections import OrderedDict
from typing import Any

import nio

KEEP = 256  # distinct files remembered; an older one is simply uploaded again


class MediaUploads:
    def __init__(self, client: nio.AsyncClient, keep: int = KEEP) -> None:
        self._client = client
        self._keep = keep
        self._known: OrderedDict[tuple[bytes, str, str, bool], dict[str, Any]] = OrderedDict()
        self._lock = asyncio.Lock()  # one upload at a time: the second asker of a file waits and reuses it

    async def content_keys(self, data: bytes, mimetype: str, filename: str, *, encrypt: bool) -> dict[str, Any]:
        """The keys of an m.file content that point at this file (`url`, or `file` when encrypted)."""
        key = (hashlib.sha256(data).digest(), mimetype, filename, encrypt)
        async with self._lock:
            keys = self._known.get(key)
            if keys is None:
                keys = await self._upload(data, mimetype, filename, encrypt)
                self._known[key] = keys
                while len(self._known) > self._keep:
                    self._known.popitem(last=False)
            else:
                self._known.move_to_end(key)
        return copy.deepcopy(keys)

    async def _upload(self, data: bytes, mimetype: str, filename: str, encrypt: bool) -> dict[str, Any]:
        resp, keys = await self._client.upload(lambda *_: io.BytesIO(data), content_type=mimetype,
                                               filename=filename, encrypt=encrypt, filesize=len(data))
        if isinstance(resp, nio.UploadError):
            raise ConnectionError(f"upload failed: {resp.message}")
        if encrypt:
            return {"file": {**keys, "url": resp.content_uri, "mimetype": mimetype}}
        return {"url": resp.content_uri}
