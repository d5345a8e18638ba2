"""bot.matrix.crosssign against a real Synapse: create, reuse, restore, and refuse."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

pytest.importorskip("synapse")

import nio  # noqa: E402
from signedjson.key import decode_verify_key_bytes  # noqa: E402
from signedjson.sign import verify_signed_json  # noqa: E402

from bot.matrix import crosssign  # noqa: E402
from bot.matrix.crosssign import (  # noqa: E402
    CrossSigningError,
    decode_recovery_key,
    device_is_cross_signed,
    ensure_cross_signed,
    ssss_decrypt,
    ssss_key_matches,
)
from bot.dev.synapse import LocalSynapse  # noqa: E402

pytestmark = pytest.mark.synapse

PASSWORD = "bot-password"
PASSPHRASE = "keys-file-passphrase"

ClientFactory = Callable[..., Awaitable[nio.AsyncClient]]


@dataclass
class BotAccount:
    user_id: str
    localpart: str
    recovery_key: str
    master_public: str
    keys_file: Path


@pytest.fixture(scope="module")
async def synapse(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalSynapse]:
    async with LocalSynapse(tmp_path_factory.mktemp("synapse")) as server:
        yield server


@pytest.fixture(scope="module")
async def new_client(
    synapse: LocalSynapse, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ClientFactory]:
    """Log in a fresh E2EE nio device (own store) and publish its device keys."""
    clients: list[nio.AsyncClient] = []

    async def factory(localpart: str, password: str = PASSWORD) -> nio.AsyncClient:
        user_id = await synapse.register_user(localpart, password)
        store = tmp_path_factory.mktemp(f"store-{localpart}")
        config = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
        client = nio.AsyncClient(synapse.url, user_id, store_path=str(store), config=config)
        clients.append(client)
        response = await client.login(password, device_name="Kring test")
        assert isinstance(response, nio.LoginResponse), response
        if client.should_upload_keys:
            assert isinstance(await client.keys_upload(), nio.KeysUploadResponse)
        return client

    yield factory
    for client in clients:
        await client.close()


async def query_keys(synapse: LocalSynapse, token: str, user_id: str) -> dict[str, Any]:
    """Plain /keys/query as any user, without the module under test."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        url = f"{synapse.url}/_matrix/client/v3/keys/query"
        async with http.post(url, json={"device_keys": {user_id: []}}) as resp:
            assert resp.status == 200
            return await resp.json()


def master_public(keys: dict[str, Any], user_id: str) -> str | None:
    master = keys.get("master_keys", {}).get(user_id)
    return next(iter(master["keys"].values())) if master else None


def signed_by(obj: dict[str, Any], user_id: str, public: str) -> bool:
    """Verify with signedjson (Synapse's library), independent of bot.matrix.crosssign."""
    key = decode_verify_key_bytes(f"ed25519:{public}", crosssign.b64decode(public))
    try:
        verify_signed_json(obj, user_id, key)
    except Exception:
        return False
    return True


@pytest.fixture(scope="module")
async def bot(new_client: ClientFactory, tmp_path_factory: pytest.TempPathFactory) -> BotAccount:
    """The first run on a new account: creates and publishes cross-signing keys."""
    client = await new_client("kring")
    keys_file = tmp_path_factory.mktemp("bot") / "cross_signing.json"

    status = await ensure_cross_signed(client, keys_file=keys_file, passphrase=PASSPHRASE, password=PASSWORD)

    assert status.device_signed and status.created_keys, status.detail
    assert status.new_recovery_key and decode_recovery_key(status.new_recovery_key)
    assert status.new_recovery_key not in status.detail
    assert await device_is_cross_signed(client)
    keys = await crosssign._query_own_keys(client)
    return BotAccount(
        user_id=client.user_id,
        localpart="kring",
        recovery_key=status.new_recovery_key,
        master_public=master_public(keys, client.user_id) or "",
        keys_file=keys_file,
    )


async def test_first_run_writes_a_private_keys_file(bot: BotAccount) -> None:
    assert bot.master_public
    assert stat.S_IMODE(bot.keys_file.stat().st_mode) == 0o600
    keys = crosssign.load_keys_file(bot.keys_file, PASSPHRASE, bot.user_id)
    assert keys.master is not None and keys.master.public == bot.master_public


async def test_second_call_creates_no_new_keys(bot: BotAccount, new_client: ClientFactory) -> None:
    client = await new_client(bot.localpart)
    first = await ensure_cross_signed(client, keys_file=bot.keys_file, passphrase=PASSPHRASE)
    assert first.device_signed and not first.created_keys and first.new_recovery_key is None
    again = await ensure_cross_signed(client, keys_file=bot.keys_file, passphrase=PASSPHRASE)
    assert again.device_signed and not again.created_keys and again.new_recovery_key is None
    assert master_public(await crosssign._query_own_keys(client), bot.user_id) == bot.master_public


async def test_other_user_sees_the_device_signed_by_ssk_and_ssk_by_master(
    bot: BotAccount, synapse: LocalSynapse, new_client: ClientFactory
) -> None:
    client = await new_client(bot.localpart)
    assert (await ensure_cross_signed(client, keys_file=bot.keys_file, passphrase=PASSPHRASE)).device_signed

    await synapse.register_user("observer", "observer-pw")
    keys = await query_keys(synapse, await synapse.login("observer", "observer-pw"), bot.user_id)
    master = keys["master_keys"][bot.user_id]
    ssk = keys["self_signing_keys"][bot.user_id]
    device = keys["device_keys"][bot.user_id][client.device_id]
    master_pub = next(iter(master["keys"].values()))
    ssk_pub = next(iter(ssk["keys"].values()))

    assert master["usage"] == ["master"] and ssk["usage"] == ["self_signing"]
    assert master_pub == bot.master_public
    assert signed_by(ssk, bot.user_id, master_pub)
    assert signed_by(device, bot.user_id, ssk_pub)
    assert device["keys"][f"ed25519:{client.device_id}"] == client.olm.account.identity_keys["ed25519"]


async def test_secret_storage_holds_the_keys_for_the_recovery_key(
    bot: BotAccount, new_client: ClientFactory
) -> None:
    client = await new_client(bot.localpart)
    key = decode_recovery_key(bot.recovery_key)
    default = await crosssign._get_account_data(client, "m.secret_storage.default_key")
    assert default is not None
    key_id = default["key"]
    info = await crosssign._get_account_data(client, f"m.secret_storage.key.{key_id}")
    assert info is not None and ssss_key_matches(key, info)

    server = await crosssign._query_own_keys(client)
    for usage in ("master", "self_signing", "user_signing"):
        name = f"m.cross_signing.{usage}"
        stored = await crosssign._get_account_data(client, name)
        assert stored is not None
        seed = crosssign.b64decode(ssss_decrypt(stored["encrypted"][key_id], key, name).decode())
        public = next(iter(server[f"{usage}_keys"][bot.user_id]["keys"].values()))
        assert crosssign.SigningKey(seed).public == public


async def test_new_device_with_recovery_key_and_no_keys_file_is_signed(
    bot: BotAccount, new_client: ClientFactory, tmp_path: Path
) -> None:
    client = await new_client(bot.localpart)
    keys_file = tmp_path / "cross_signing.json"
    assert not await device_is_cross_signed(client)

    status = await ensure_cross_signed(
        client, keys_file=keys_file, passphrase="another passphrase", recovery_key=bot.recovery_key
    )

    assert status.device_signed and not status.created_keys and status.new_recovery_key is None, status.detail
    assert "secret storage" in status.detail
    assert await device_is_cross_signed(client)
    restored = crosssign.load_keys_file(keys_file, "another passphrase", bot.user_id)
    assert restored.master is not None and restored.master.public == bot.master_public
    assert master_public(await crosssign._query_own_keys(client), bot.user_id) == bot.master_public


async def test_new_device_without_keys_file_or_recovery_key_is_left_alone(
    bot: BotAccount, new_client: ClientFactory, tmp_path: Path
) -> None:
    client = await new_client(bot.localpart)
    keys_file = tmp_path / "missing.json"

    status = await ensure_cross_signed(client, keys_file=keys_file, passphrase=PASSPHRASE, password=PASSWORD)

    assert not status.device_signed and not status.created_keys and status.new_recovery_key is None
    assert "recovery_key" in status.detail
    assert not keys_file.exists()
    assert not await device_is_cross_signed(client)
    assert master_public(await crosssign._query_own_keys(client), bot.user_id) == bot.master_public


async def test_wrong_passphrase_or_wrong_recovery_key_changes_nothing(
    bot: BotAccount, new_client: ClientFactory
) -> None:
    client = await new_client(bot.localpart)
    before = bot.keys_file.read_bytes()
    wrong_key = crosssign.encode_recovery_key(bytes(32))

    status = await ensure_cross_signed(
        client, keys_file=bot.keys_file, passphrase="wrong", password=PASSWORD, recovery_key=wrong_key
    )

    assert not status.device_signed and not status.created_keys
    assert "wrong passphrase" in status.detail and "does not unlock" in status.detail
    assert wrong_key not in status.detail
    assert bot.keys_file.read_bytes() == before
    assert master_public(await crosssign._query_own_keys(client), bot.user_id) == bot.master_public


async def test_replacing_keys_needs_the_password(new_client: ClientFactory) -> None:
    """Synapse: first upload without UIA (MSC3967); a replacement asks for the password."""
    client = await new_client("uia-check")

    def keys_body() -> tuple[dict[str, Any], str]:
        master = crosssign.SigningKey.generate()
        return {"master_key": crosssign._cross_signing_key(client.user_id, "master", master)}, master.public

    first, first_pub = keys_body()
    await crosssign._upload_signing_keys(client, first, password=None)
    assert master_public(await crosssign._query_own_keys(client), client.user_id) == first_pub

    second, second_pub = keys_body()
    with pytest.raises(CrossSigningError, match="password"):
        await crosssign._upload_signing_keys(client, second, password=None)
    with pytest.raises(CrossSigningError, match="401"):
        await crosssign._upload_signing_keys(client, second, password="not the password")
    assert master_public(await crosssign._query_own_keys(client), client.user_id) == first_pub

    await crosssign._upload_signing_keys(client, second, password=PASSWORD)
    assert master_public(await crosssign._query_own_keys(client), client.user_id) == second_pub
