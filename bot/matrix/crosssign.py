"""Cross-sign Kring's own device, so that Element exchanges encrypted messages with it.

matrix-nio has no cross-signing, so this module does it by hand:

* three Ed25519 keys (master, self-signing, user-signing) are created once per
  account and uploaded with ``/keys/device_signing/upload``;
* the bot's device, exactly as the server stores it, is signed with the
  self-signing key and uploaded with ``/keys/signatures/upload``;
* the private keys are kept in a local file encrypted with the configured
  passphrase, and in the account's secret storage (SSSS,
  ``m.secret_storage.v1.aes-hmac-sha2``) so that Element, or a new Kring
  device given the recovery key, can restore them.

Existing cross-signing keys are never replaced.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import nio

from bot.matrix.crosssign_keys import (  # noqa: F401 - re-exported: the key material lives there
    CrossSigningError,
    KeysFileError,
    CrossSigningStatus,
    canonical_json,
    b64encode,
    b64decode,
    SigningKey,
    verify_signature,
    encode_recovery_key,
    decode_recovery_key,
    ssss_encrypt,
    ssss_decrypt,
    ssss_key_info,
    ssss_key_matches,
    CrossSigningKeys,
    save_keys_file,
    load_keys_file,
    keys_file_encrypted,
    USAGES,
    MASTER,
    SELF_SIGNING,
    USER_SIGNING,
)

from bot.matrix.crosssign_http import API, call as _call, http_error as _error, request as _request

log = logging.getLogger(__name__)


# -- HTTP (bot/matrix/crosssign_http.py) -----------------------------------------


def _account_data_path(client: nio.AsyncClient, event_type: str) -> str:
    return f"{API}/user/{quote(client.user_id, safe='')}/account_data/{quote(event_type, safe='')}"


async def _get_account_data(client: nio.AsyncClient, event_type: str) -> dict[str, Any] | None:
    status, payload = await _request(client, "GET", _account_data_path(client, event_type))
    if status == 404:
        return None
    if status != 200:
        raise CrossSigningError(f"reading account data {event_type} -> {status} {payload.get('errcode')}")
    return payload


async def _put_account_data(client: nio.AsyncClient, event_type: str, content: dict[str, Any]) -> None:
    await _call(client, "PUT", _account_data_path(client, event_type), content)


async def _query_own_keys(client: nio.AsyncClient) -> dict[str, Any]:
    return await _call(client, "POST", f"{API}/keys/query", {"device_keys": {client.user_id: []}})


async def _upload_signing_keys(client: nio.AsyncClient, body: dict[str, Any], password: str | None) -> None:
    """POST /keys/device_signing/upload, answering a password UIA prompt if asked."""
    path = f"{API}/keys/device_signing/upload"
    status, payload = await _request(client, "POST", path, body)
    if status == 401 and "flows" in payload:
        if not any(flow.get("stages") == ["m.login.password"] for flow in payload["flows"]):
            raise CrossSigningError("the server wants an interactive login other than a password")
        if not password:
            raise CrossSigningError("the server asks for the account password, and none is configured")
        auth = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": client.user_id},
            "password": password,
            "session": payload.get("session"),
        }
        status, payload = await _request(client, "POST", path, {**body, "auth": auth})
    if status != 200:
        raise _error("uploading cross-signing keys", status, payload)


async def _upload_signatures(client: nio.AsyncClient, signed: dict[str, dict[str, Any]]) -> None:
    """POST /keys/signatures/upload; signed maps device id (or key) to signed object."""
    payload = await _call(client, "POST", f"{API}/keys/signatures/upload", {client.user_id: signed})
    failures = payload.get("failures") or {}
    if failures:
        first = next(iter(next(iter(failures.values())).values()), {})
        raise CrossSigningError(f"signature rejected: {first.get('errcode')}: {first.get('message')}")


# -- server state ------------------------------------------------------------


@dataclass
class _ServerState:
    user_id: str
    device: dict[str, Any] | None
    keys: dict[str, dict[str, Any]]  # usage -> cross-signing key object

    def public(self, usage: str) -> str | None:
        obj = self.keys.get(usage)
        if not obj:
            return None
        values = list(obj.get("keys", {}).values())
        return values[0] if len(values) == 1 else None

    @property
    def has_master(self) -> bool:
        return self.public(MASTER) is not None


def _parse_state(resp: dict[str, Any], user_id: str, device_id: str) -> _ServerState:
    device = resp.get("device_keys", {}).get(user_id, {}).get(device_id)
    keys = {u: resp.get(f"{u}_keys", {}).get(user_id) for u in USAGES}
    return _ServerState(user_id, device, {u: k for u, k in keys.items() if k})


def _device_signed(state: _ServerState) -> bool:
    """Device signed by the SSK, and the SSK signed by the master key."""
    master, ssk = state.public(MASTER), state.public(SELF_SIGNING)
    return bool(
        state.device
        and master
        and ssk
        and verify_signature(state.keys[SELF_SIGNING], state.user_id, master)
        and verify_signature(state.device, state.user_id, ssk)
    )


def _device_problem(client: nio.AsyncClient, state: _ServerState) -> str | None:
    """Why we must not sign the server's copy of our device, or None."""
    if state.device is None:
        return "this device's keys are not on the server yet"
    ours = client.olm.account.identity_keys
    keys = state.device.get("keys", {})
    if (
        state.device.get("user_id") != client.user_id
        or state.device.get("device_id") != client.device_id
        or keys.get(f"ed25519:{client.device_id}") != ours["ed25519"]
        or keys.get(f"curve25519:{client.device_id}") != ours["curve25519"]
    ):
        return "the server's copy of this device's keys is not ours; refusing to sign it"
    return None


def _keys_match(keys: CrossSigningKeys, state: _ServerState) -> bool:
    """Every private key we hold belongs to the server's public key of that usage."""
    return all(k is None or k.public == state.public(u) for u, k in keys.by_usage().items())


async def _load_state(client: nio.AsyncClient) -> _ServerState:
    """Our keys on the server; uploads this device's keys first if nio has not yet."""
    state = _parse_state(await _query_own_keys(client), client.user_id, client.device_id)
    if state.device is None and client.should_upload_keys:
        response = await client.keys_upload()
        if isinstance(response, nio.KeysUploadError):
            raise CrossSigningError(f"uploading device keys failed: {response.message}")
        state = _parse_state(await _query_own_keys(client), client.user_id, client.device_id)
    return state


# -- the flows ---------------------------------------------------------------


def _cross_signing_key(user_id: str, usage: str, key: SigningKey) -> dict[str, Any]:
    return {"user_id": user_id, "usage": [usage], "keys": {key.key_id: key.public}}


async def _store_in_ssss(client: nio.AsyncClient, keys: CrossSigningKeys) -> None:
    """Write the key description, the three secrets, then make the key the default."""
    assert keys.ssss_key and keys.ssss_key_id
    await _put_account_data(client, f"m.secret_storage.key.{keys.ssss_key_id}", ssss_key_info(keys.ssss_key))
    for usage, key in keys.by_usage().items():
        assert key is not None
        name = f"m.cross_signing.{usage}"
        encrypted = ssss_encrypt(b64encode(key.seed), keys.ssss_key, name)
        await _put_account_data(client, name, {"encrypted": {keys.ssss_key_id: encrypted}})
    await _put_account_data(client, "m.secret_storage.default_key", {"key": keys.ssss_key_id})


async def _create_keys(
    client: nio.AsyncClient, keys_file: Path, passphrase: str | None, password: str | None
) -> CrossSigningKeys:
    """Generate, save locally, store in SSSS, then publish the cross-signing keys."""
    keys = CrossSigningKeys.generate()
    assert keys.master and keys.user_signing
    save_keys_file(keys_file, keys, passphrase, client.user_id)
    await _store_in_ssss(client, keys)
    uid = client.user_id
    ssk = _cross_signing_key(uid, SELF_SIGNING, keys.self_signing)
    usk = _cross_signing_key(uid, USER_SIGNING, keys.user_signing)
    body = {
        "master_key": _cross_signing_key(uid, MASTER, keys.master),
        "self_signing_key": keys.master.sign_into(ssk, uid),
        "user_signing_key": keys.master.sign_into(usk, uid),
    }
    await _upload_signing_keys(client, body, password)
    log.info("Published new cross-signing keys for %s (master %s)", uid, keys.master.public)
    return keys


async def _restore_from_ssss(
    client: nio.AsyncClient, recovery_key: str, state: _ServerState
) -> CrossSigningKeys:
    """Read the cross-signing keys from secret storage with the recovery key."""
    try:
        ssss_key = decode_recovery_key(recovery_key)
    except ValueError as exc:
        raise KeysFileError(f"matrix.recovery_key is not a valid recovery key: {exc}") from None
    stored = await _get_account_data(client, "m.cross_signing.self_signing")
    encrypted = (stored or {}).get("encrypted") or {}
    if not encrypted:
        raise KeysFileError("the account's secret storage holds no self-signing key")
    key_id = await _matching_ssss_key_id(client, ssss_key, list(encrypted))
    if key_id is None:
        raise KeysFileError("matrix.recovery_key does not unlock this account's secret storage")
    keys = CrossSigningKeys(
        self_signing=await _read_secret(client, SELF_SIGNING, key_id, ssss_key),
        ssss_key_id=key_id,
        ssss_key=ssss_key,
    )
    for usage in (MASTER, USER_SIGNING):
        try:
            setattr(keys, usage, await _read_secret(client, usage, key_id, ssss_key))
        except (KeysFileError, ValueError):
            log.warning("Secret storage has no usable %s key; continuing without it", usage)
    if not _keys_match(keys, state):
        raise KeysFileError("the keys in secret storage do not match the account's cross-signing keys")
    return keys


async def _matching_ssss_key_id(client: nio.AsyncClient, key: bytes, key_ids: list[str]) -> str | None:
    for key_id in key_ids:
        info = await _get_account_data(client, f"m.secret_storage.key.{key_id}")
        if info and ssss_key_matches(key, info):
            return key_id
    return None


async def _read_secret(client: nio.AsyncClient, usage: str, key_id: str, ssss_key: bytes) -> SigningKey:
    name = f"m.cross_signing.{usage}"
    stored = await _get_account_data(client, name)
    payload = ((stored or {}).get("encrypted") or {}).get(key_id)
    if not payload:
        raise KeysFileError(f"secret storage has no {name}")
    try:
        return SigningKey(b64decode(ssss_decrypt(payload, ssss_key, name).decode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeysFileError(f"cannot decrypt {name} from secret storage") from exc


async def _sign_device(client: nio.AsyncClient, ssk: SigningKey, state: _ServerState) -> bool:
    """Sign the server's copy of our device with the SSK, upload, and re-check."""
    assert state.device is not None
    signed = ssk.sign_into(state.device, client.user_id)
    await _upload_signatures(client, {client.device_id: signed})
    return await device_is_cross_signed(client)


def _unusable_keys_detail(reason: str) -> str:
    return (
        f"This account already has cross-signing keys, but Kring cannot use them ({reason}). "
        "Set matrix.recovery_key to the account's recovery key, or reset the account's "
        "cross-signing (e.g. in Element) and configure the new recovery key."
    )


async def ensure_cross_signed(
    client: nio.AsyncClient,
    *,
    keys_file: Path,
    passphrase: str | None,
    password: str | None = None,
    recovery_key: str | None = None,
) -> CrossSigningStatus:
    """Make sure our device is signed by the account's self-signing key.

    Creates the account's cross-signing keys when it has none; otherwise uses
    keys_file, or secret storage unlocked with recovery_key. Never replaces
    existing keys. Without a passphrase keys_file is written unencrypted (0600).
    Server and network errors end up in the returned status; an unwritable
    keys_file raises OSError.
    """
    if client.olm is None or not client.user_id or not client.device_id:
        return CrossSigningStatus(False, False, None, "Encryption is not set up on this client (logged in?).")
    keys_file = Path(keys_file)
    try:
        state = await _load_state(client)
        problem = _device_problem(client, state)
        if problem:
            return CrossSigningStatus(False, False, None, f"Cannot cross-sign: {problem}.")
        if not state.has_master:
            return await _create_and_sign(client, keys_file, passphrase, password)
        if _device_signed(state):
            return CrossSigningStatus(True, False, None, "This device is cross-signed.")
        return await _sign_with_existing(client, state, keys_file, passphrase, recovery_key)
    except (CrossSigningError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
        log.warning("Cross-signing failed: %s", exc)
        return CrossSigningStatus(False, False, None, f"Cross-signing failed: {exc}")


async def _create_and_sign(
    client: nio.AsyncClient, keys_file: Path, passphrase: str | None, password: str | None
) -> CrossSigningStatus:
    keys = await _create_keys(client, keys_file, passphrase, password)
    assert keys.ssss_key
    recovery = encode_recovery_key(keys.ssss_key)
    try:
        signed = await _sign_device(client, keys.self_signing, await _load_state(client))
    except (CrossSigningError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
        log.warning("Created cross-signing keys but could not sign this device: %s", exc)
        detail = f"Created cross-signing keys, but signing this device failed: {exc}"
        return CrossSigningStatus(False, True, recovery, detail)
    detail = "Created cross-signing keys and signed this device." if signed else (
        "Created cross-signing keys, but the server does not show this device as signed."
    )
    return CrossSigningStatus(signed, True, recovery, detail)


async def _sign_with_existing(
    client: nio.AsyncClient, state: _ServerState, keys_file: Path, passphrase: str | None, recovery_key: str | None
) -> CrossSigningStatus:
    """Steps 2-4: keys file, else secret storage via the recovery key, else give up."""
    try:
        keys = load_keys_file(keys_file, passphrase, client.user_id)
        if not _keys_match(keys, state):
            raise KeysFileError("the keys file holds other keys than the account's current ones")
        source = "the keys file"
    except KeysFileError as exc:
        if not recovery_key:
            return CrossSigningStatus(False, False, None, _unusable_keys_detail(str(exc)))
        try:
            keys = await _restore_from_ssss(client, recovery_key, state)
        except KeysFileError as ssss_exc:
            return CrossSigningStatus(False, False, None, _unusable_keys_detail(f"{exc}; {ssss_exc}"))
        save_keys_file(keys_file, keys, passphrase, client.user_id)
        source = "secret storage"
    signed = await _sign_device(client, keys.self_signing, state)
    detail = f"Signed this device with the self-signing key from {source}." if signed else (
        "Uploaded a signature for this device, but the server does not show it as signed."
    )
    return CrossSigningStatus(signed, False, None, detail)


def device_keys_uploaded(client: nio.AsyncClient) -> bool:
    """This device's identity keys are on the server (nio marks its account shared once their
    upload is answered; the gateway's login uploads them)."""
    return client.olm is not None and client.olm.account.shared


async def device_is_cross_signed(client: nio.AsyncClient) -> bool:
    """Cheap check via /keys/query: is our device validly signed by our SSK right now?

    False also when the server cannot be asked (the failure is logged).
    """
    try:
        resp = await _query_own_keys(client)
    except (CrossSigningError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
        log.warning("Cannot check cross-signing status: %s", exc)
        return False
    state = _parse_state(resp, client.user_id, client.device_id)
    if client.olm is not None and _device_problem(client, state):
        return False
    return _device_signed(state)
