"""nio's key housekeeping between syncs (uploading and claiming one-time keys, fetching the device
lists that changed, sending queued to-device messages), run beside the handling of a batch.

It is only needed to encrypt: commands in plain rooms need not wait for a key query on their
way to an answer. Encrypted sends wait for it (the room key must reach every current device)
and so does the next sync."""
from __future__ import annotations

import asyncio

import nio


class KeyWork:
    def __init__(self, client: nio.AsyncClient) -> None:
        self.client = client
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """After a sync: begin this round's key work (the previous one is done by then)."""
        self._task = asyncio.create_task(self._run(), name="key housekeeping")

    async def done(self, *, raise_errors: bool) -> None:
        """Wait for the key work under way. A failure is raised (once) only with raise_errors,
        i.e. to the sync loop, which retries with its backoff; a send just goes on."""
        task = self._task
        if task is None:
            return
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # we were cancelled, not the key work
        except Exception:
            if raise_errors:
                self._task = None
                raise
        else:
            if self._task is task:
                self._task = None

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        """What nio's sync_forever does between syncs."""
        c = self.client
        if c.should_upload_keys:
            await c.keys_upload()
        if c.should_query_keys:
            await c.keys_query()
        if c.should_claim_keys:
            await c.keys_claim(c.get_users_for_key_claiming())
        await c.send_to_device_messages()
