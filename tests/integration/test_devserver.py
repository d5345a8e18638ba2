"""bot.dev.synapse against a real Synapse: start, register, log in, restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

pytest.importorskip("synapse")

from bot.dev.synapse import LocalSynapse  # noqa: E402

pytestmark = pytest.mark.synapse


async def login(url: str, user: str, password: str) -> tuple[int, dict]:
    """A plain client-API password login, no helper from the module under test."""
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/_matrix/client/v3/login", json=body) as resp:
            return resp.status, await resp.json()


@pytest.fixture(scope="module")
async def synapse(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalSynapse]:
    async with LocalSynapse(tmp_path_factory.mktemp("synapse")) as server:
        yield server


async def test_register_two_users_and_log_in(synapse: LocalSynapse) -> None:
    alice = await synapse.register_user("alice", "alice-pw", displayname="Alice")
    bob = await synapse.register_user("bob", "bob-pw")
    assert (alice, bob) == ("@alice:localhost", "@bob:localhost")

    status, body = await login(synapse.url, "alice", "alice-pw")
    assert status == 200
    assert body["user_id"] == alice and body["access_token"]

    status, body = await login(synapse.url, "bob", "wrong")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_register_is_idempotent(synapse: LocalSynapse) -> None:
    first = await synapse.register_user("carol", "carol-pw")
    assert await synapse.register_user("carol", "carol-pw") == first == "@carol:localhost"


async def test_messages_are_not_throttled(synapse: LocalSynapse) -> None:
    """Synapse's default rc_message allows a burst of 10; the dev server raises it."""
    await synapse.register_user("dave", "dave-pw")
    _, body = await login(synapse.url, "dave", "dave-pw")
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    api = f"{synapse.url}/_matrix/client/v3"
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{api}/createRoom", json={}) as resp:
            room_id = (await resp.json())["room_id"]
        for i in range(40):
            url = f"{api}/rooms/{room_id}/send/m.room.message/t{i}"
            async with http.put(url, json={"msgtype": "m.text", "body": str(i)}) as resp:
                assert resp.status == 200, await resp.text()


async def test_user_ratelimit_override(synapse: LocalSynapse) -> None:
    user = await synapse.register_user("erin", "erin-pw")
    path = f"{synapse.url}/_synapse/admin/v1/users/{user}/override_ratelimit"
    headers = {"Authorization": f"Bearer {await synapse.admin_token()}"}

    async def current() -> dict:
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.get(path) as resp:
                assert resp.status == 200
                return await resp.json()

    await synapse.set_user_ratelimit(user, 5, 7)
    assert await current() == {"messages_per_second": 5, "burst_count": 7}
    await synapse.clear_user_ratelimit(user)
    assert await current() == {}


async def test_restart_keeps_users_and_port(tmp_path: Path) -> None:
    async with LocalSynapse(tmp_path) as first:
        url = first.url
        user = await first.register_user("frank", "frank-pw")
    assert not first.running

    second = LocalSynapse(tmp_path)
    assert second.url == url  # the saved port is known before start()
    async with second:
        assert await second.register_user("frank", "other-pw") == user
        status, body = await login(second.url, "frank", "frank-pw")
        assert status == 200 and body["user_id"] == user
        assert await second.admin_token()


async def test_a_homeserver_left_running_by_a_killed_run_is_found_and_restarted(tmp_path: Path) -> None:
    import atexit

    first = LocalSynapse(tmp_path)
    await first.start()
    user = await first.register_user("gina", "gina-pw")
    old_pid = first.pid
    # What kill -9 of its owner leaves: the homeserver runs on, and nobody holds a handle to it.
    leftover, first._proc = first._proc, None
    atexit.unregister(first._kill_at_exit)
    assert leftover.poll() is None
    assert int((tmp_path / "homeserver.pid").read_text()) == old_pid

    second = LocalSynapse(tmp_path)
    try:
        await second.start()  # before: DevServerError "already in use ... see homeserver.pid"
        assert leftover.wait(timeout=30) is not None, "the leftover homeserver was stopped"
        assert second.pid != old_pid and second.url == first.url
        status, body = await login(second.url, "gina", "gina-pw")
        assert status == 200 and body["user_id"] == user
    finally:
        await second.stop()
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()
