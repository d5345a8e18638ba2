"""The Element-like member test driver works against a real Synapse.

Uses the session's ``synapse`` fixture (tests/integration/conftest.py).

Two members running Element's crypto stack (matrix-js-sdk + Rust crypto, in
"exclude insecure devices" mode, each cross-signed) DM each other, encrypted
and in the clear. A third party whose device is NOT cross-signed (plain
matrix-nio, like a bot without cross-signing) shows the failure a test against
such a bot should see: the member reports the message as undecryptable at
once, and withholds its own keys from that device with code m.unverified.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import nio
import pytest

from bot.dev.synapse import LocalSynapse
from tests.element_member import ElementMember, ElementMemberTimeout, ensure_node_modules

pytestmark = pytest.mark.synapse

MemberFactory = Callable[..., Awaitable[ElementMember]]


@pytest.fixture(scope="module")
def element_node_modules() -> Path:
    return ensure_node_modules()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def new_member(synapse: LocalSynapse, element_node_modules: Path) -> AsyncIterator[MemberFactory]:
    """Factory: a freshly registered user, logged in as an Element-like member."""
    members: list[ElementMember] = []

    async def make(name: str, *, auto_join: bool = False) -> ElementMember:
        localpart = _unique(name)
        password = f"pw-{localpart}"
        user_id = await synapse.register_user(localpart, password)
        member = ElementMember(name)
        members.append(member)
        await member.login(synapse.url, user_id, password, auto_join=auto_join)
        assert member.user_id == user_id, "the SDK is logged in as the user registered for it"
        return member

    try:
        yield make
    finally:
        await asyncio.gather(*(m.close() for m in members), return_exceptions=True)


async def _dm_pair(new_member: MemberFactory, *, encrypted: bool) -> tuple[ElementMember, ElementMember, str]:
    alice, bob = await asyncio.gather(new_member("alice"), new_member("bob"))
    room = await alice.create_dm(bob.user_id, encrypted=encrypted)
    await bob.join(room)
    await alice.wait_joined(room, bob.user_id)
    return alice, bob, room


async def test_members_are_cross_signed_and_exclude_insecure_devices(new_member: MemberFactory) -> None:
    alice, bob, _room = await _dm_pair(new_member, encrypted=True)
    me = await alice.whoami()
    assert me["cross_signing_ready"] is True
    assert me["isolation_mode"] == "OnlySignedDevicesIsolationMode"
    # Alice shares an encrypted room with Bob, so her crypto tracks his devices.
    devices = await alice.devices(bob.user_id)
    assert [d["device_id"] for d in devices] == [bob.device_id]
    assert devices[0]["tracked"] is True
    assert devices[0]["signed_by_owner"] is True


async def test_encrypted_dm_roundtrip(new_member: MemberFactory) -> None:
    alice, bob, room = await _dm_pair(new_member, encrypted=True)

    sent = await alice.send(room, "hello from alice 🔒")
    got = await bob.wait_message(room, alice.user_id, timeout_ms=20000)
    assert got.event_id == sent
    assert got.encrypted and got.decrypted, got
    assert got.error is None
    assert got.body == "hello from alice 🔒"
    assert got.content["msgtype"] == "m.text"

    reply = await bob.send(room, "!help")
    back = await alice.wait_message(room, bob.user_id, after=sent, timeout_ms=20000)
    assert back.event_id == reply
    assert back.decrypted and back.body == "!help", back


async def test_plain_dm_roundtrip(new_member: MemberFactory) -> None:
    alice, bob, room = await _dm_pair(new_member, encrypted=False)

    sent = await alice.send(room, "hello in the clear")
    got = await bob.wait_message(room, alice.user_id, timeout_ms=20000)
    assert got.event_id == sent
    assert not got.encrypted and not got.decrypted and got.readable
    assert got.body == "hello in the clear"

    await bob.send(room, "ok")
    back = await alice.wait_message(room, bob.user_id, after=sent, timeout_ms=20000)
    assert back.body == "ok" and not back.encrypted


async def test_dm_is_marked_direct_on_both_sides(new_member: MemberFactory) -> None:
    alice, bob, room = await _dm_pair(new_member, encrypted=True)
    assert (await alice.account_data("m.direct")) == {bob.user_id: [room]}
    assert (await bob.account_data("m.direct")) == {alice.user_id: [room]}


async def test_auto_join(new_member: MemberFactory) -> None:
    alice, bob = await asyncio.gather(new_member("alice"), new_member("bob", auto_join=True))
    room = await alice.create_dm(bob.user_id, encrypted=True)
    await alice.wait_joined(room, bob.user_id)  # bob joined by himself
    sent = await alice.send(room, "welcome")
    got = await bob.wait_message(room, alice.user_id, timeout_ms=20000)
    assert got.event_id == sent and got.decrypted and got.body == "welcome"


async def test_messages_come_in_order_each_once(new_member: MemberFactory) -> None:
    alice, bob, room = await _dm_pair(new_member, encrypted=True)
    ids = [await alice.send(room, f"msg {i}") for i in range(3)]
    got = [await bob.wait_message(room, alice.user_id, timeout_ms=20000) for _ in ids]
    assert [m.event_id for m in got] == ids
    assert [m.body for m in got] == ["msg 0", "msg 1", "msg 2"]


async def test_wait_message_times_out_cleanly(new_member: MemberFactory) -> None:
    alice, bob, room = await _dm_pair(new_member, encrypted=True)
    with pytest.raises(ElementMemberTimeout):
        await bob.wait_message(room, alice.user_id, timeout_ms=300)
    # the member is still usable afterwards
    sent = await alice.send(room, "still here")
    assert (await bob.wait_message(room, alice.user_id, timeout_ms=20000)).event_id == sent


async def _nio_sync_until(
    client: nio.AsyncClient, done: Callable[[nio.SyncResponse], bool], timeout_s: float
) -> None:
    """Long-poll /sync until done(response) is true (each sync returns as soon as something happens)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("nio client: condition not reached in time")
        resp = await client.sync(timeout=int(min(left, 5) * 1000))
        assert isinstance(resp, nio.SyncResponse), resp
        if client.should_upload_keys:
            await client.keys_upload()
        if done(resp):
            return


async def test_uncrosssigned_sender_fails_fast_both_ways(
    synapse: LocalSynapse, new_member: MemberFactory, tmp_path: Path
) -> None:
    """What a bot without cross-signing looks like to an Element user of 2026."""
    alice = await new_member("alice")

    localpart = _unique("nio")
    password = f"pw-{localpart}"
    nio_user = await synapse.register_user(localpart, password)
    store = tmp_path / "nio-store"
    store.mkdir()
    plain = nio.AsyncClient(
        synapse.url,
        nio_user,
        store_path=str(store),
        config=nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
    )
    try:
        login = await plain.login(password, device_name="not cross-signed")
        assert isinstance(login, nio.LoginResponse), login
        if plain.should_upload_keys:
            await plain.keys_upload()

        room = await alice.create_dm(nio_user, encrypted=True)
        joined = await plain.join(room)
        assert isinstance(joined, nio.JoinResponse), joined
        await alice.wait_joined(room, nio_user)
        await _nio_sync_until(plain, lambda _r: room in plain.rooms and plain.rooms[room].encrypted, 20)

        # 1. The uncross-signed device sends: the member refuses to decrypt, and says so at once.
        sent = await plain.room_send(
            room, "m.room.message", {"msgtype": "m.text", "body": "from an unsigned device"},
            ignore_unverified_devices=True,
        )
        assert isinstance(sent, nio.RoomSendResponse), sent
        got = await alice.wait_message(room, nio_user, timeout_ms=30000)
        assert got.event_id == sent.event_id
        assert got.encrypted and not got.decrypted
        assert got.error == "UNSIGNED_SENDER_DEVICE", got
        assert got.body is None

        # 2. The member sends: it withholds the room key from that device (m.unverified),
        #    so the device sees the event but cannot decrypt it.
        mine = await alice.send(room, "!help")
        withheld: list[dict] = []
        undecryptable: list[str] = []

        def saw_both(resp: nio.SyncResponse) -> bool:
            for ev in resp.to_device_events:
                if getattr(ev, "type", None) == "m.room_key.withheld":
                    withheld.append(ev.source["content"])
            joined_room = resp.rooms.join.get(room)
            for ev in joined_room.timeline.events if joined_room else []:
                if isinstance(ev, nio.MegolmEvent) and ev.event_id == mine:
                    undecryptable.append(ev.event_id)
            return bool(withheld) and bool(undecryptable)

        await _nio_sync_until(plain, saw_both, 20)
        assert withheld[0]["code"] == "m.unverified", withheld
        assert withheld[0]["room_id"] == room
        assert undecryptable == [mine]
    finally:
        await plain.close()
