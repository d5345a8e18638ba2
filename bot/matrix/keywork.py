"""nio's key housekeeping (uploading and claiming one-time keys, fetching the device lists that
changed, sending queued to-device messages), run beside the sync loop, which never waits for it.

It is only needed to encrypt: commands in plain rooms need not wait for a key query on their way
to an answer, and neither does the next sync. Encrypted sends wait for it (the room key must
reach every current device). A sync that ends while a round is under way only asks for one more
round after it, so a burst of syncs costs one round per round trip, not one per sync.

The bot's own user is queried once: Synapse lists it under device_lists.changed in most syncs of
a burst, and the bot shares room keys with the devices of the people it talks to, not its own."""
from __future__ import annotations

import asyncio
import logging

import nio

log = logging.getLogger("kring.keys")


class KeyWork:
    def __init__(self, client: nio.AsyncClient) -> None:
        self.client = client
        self._task: asyncio.Task | None = None
        self._again = False
        self._again_upload = False
        # Bumped when an upload starts and when it ends: a sync that saw it change may carry a
        # one-time key count from before the upload, which must not trigger another.
        self.upload_epoch = 0
        self.queries = 0

    def kick(self, *, counts_fresh: bool) -> None:
        """After a sync: run a round beside the loop (or one more after the round under way).
        counts_fresh: no key upload overlapped the sync, so its one-time key count holds."""
        self._forget_own_changes()
        if not self._something_to_do(counts_fresh):
            return
        if self._task is not None:
            self._again = True
            self._again_upload = self._again_upload or counts_fresh
            return
        self._start(counts_fresh)

    def _start(self, may_upload: bool) -> None:
        self._task = asyncio.create_task(self._run(may_upload), name="key housekeeping")
        self._task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        if self._task is task:
            self._task = None
        if not task.cancelled() and task.exception() is not None:
            log.warning("key housekeeping failed; tried again after the next sync",
                        extra={"error": type(task.exception()).__name__})
        if self._again and self._task is None:
            self._again, may_upload, self._again_upload = False, self._again_upload, False
            self._start(may_upload)

    def _something_to_do(self, may_upload: bool) -> bool:
        c = self.client
        if c.olm is None:
            return False
        return bool((may_upload and c.should_upload_keys) or c.should_query_keys or c.should_claim_keys
                    or c.outgoing_to_device_messages)

    def _forget_own_changes(self) -> None:
        """Once the bot's own devices are known, a change listed for its own user is not queried."""
        olm = self.client.olm
        own = self.client.user_id
        if olm is not None and own in olm.users_for_key_query and own in olm.tracked_users:
            olm.users_for_key_query.discard(own)

    async def done(self) -> None:
        """Wait for the round under way and the one asked for after it (an encrypted send: the
        devices the last sync brought must be known first). Failures are logged, not raised."""
        for _ in range(2):
            task = self._task
            if task is None:
                return
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise  # we were cancelled, not the key work
            except Exception:  # noqa: BLE001 - logged by _finished; the send goes on
                pass
            await asyncio.sleep(0)  # let _finished start the round asked for

    async def close(self) -> None:
        self._again = False
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, may_upload: bool) -> None:
        """What nio's sync_forever does between syncs."""
        c = self.client
        if may_upload and c.should_upload_keys:
            self.upload_epoch += 1
            try:
                await c.keys_upload()
            finally:
                self.upload_epoch += 1
        if c.should_query_keys:
            self.queries += 1
            await c.keys_query()
        if c.should_claim_keys:
            await c.keys_claim(c.get_users_for_key_claiming())
        await c.send_to_device_messages()
