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
import base64
import hmac
import json
import logging
import os
import secrets
import string
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import nio
from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF, scrypt
from Crypto.Signature import eddsa
from nio.client.async_client import client_session

log = logging.getLogger(__name__)

API = "/_matrix/client/v3"
MASTER, SELF_SIGNING, USER_SIGNING = "master", "self_signing", "user_signing"
USAGES = (MASTER, SELF_SIGNING, USER_SIGNING)
SSSS_ALGORITHM = "m.secret_storage.v1.aes-hmac-sha2"
RECOVERY_KEY_PREFIX = b"\x8b\x01"
KEYS_FILE_VERSION = 1
_KEYS_FILE_AAD = b"kring cross-signing keys v1"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class CrossSigningError(Exception):
    """The homeserver refused or failed a cross-signing request."""


class KeysFileError(Exception):
    """The keys file is missing, corrupt, for another account or the passphrase is wrong."""


@dataclass
class CrossSigningStatus:
    device_signed: bool  # our device carries a valid self-signing-key signature on the server now
    created_keys: bool  # this call created new cross-signing keys
    new_recovery_key: str | None  # set only when keys were just created: show it to the operator once
    detail: str  # short human sentence for logs/!status (no secrets)


# -- encodings ---------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """Matrix canonical JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def b64encode(data: bytes) -> str:
    """Unpadded standard base64, as Matrix uses it."""
    return base64.b64encode(data).decode().rstrip("=")


def b64decode(text: str) -> bytes:
    """Standard base64, padded or not."""
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _signable(obj: dict[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})


# -- Ed25519 -----------------------------------------------------------------


class SigningKey:
    """An Ed25519 key pair kept as its 32-byte seed."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed has 32 bytes")
        self.seed = seed
        self._key = eddsa.import_private_key(seed)
        self.public = b64encode(self._key.public_key().export_key(format="raw"))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(secrets.token_bytes(32))

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.public}"

    def sign(self, obj: dict[str, Any]) -> str:
        """Signature of obj's canonical JSON without signatures/unsigned."""
        return b64encode(eddsa.new(self._key, "rfc8032").sign(_signable(obj)))

    def sign_into(self, obj: dict[str, Any], user_id: str) -> dict[str, Any]:
        """A copy of obj with our signature added under signatures.user_id."""
        signed = {k: v for k, v in obj.items() if k != "unsigned"}
        sigs = {u: dict(s) for u, s in obj.get("signatures", {}).items()}
        sigs.setdefault(user_id, {})[self.key_id] = self.sign(obj)
        signed["signatures"] = sigs
        return signed

    def __repr__(self) -> str:
        return f"SigningKey({self.key_id})"


def verify_signature(obj: dict[str, Any], user_id: str, public: str) -> bool:
    """True if obj carries a valid signature by the Ed25519 key `public` for user_id."""
    sig = obj.get("signatures", {}).get(user_id, {}).get(f"ed25519:{public}")
    if not isinstance(sig, str):
        return False
    try:
        key = eddsa.import_public_key(b64decode(public))
        eddsa.new(key, "rfc8032").verify(_signable(obj), b64decode(sig))
    except (ValueError, TypeError):
        return False
    return True


# -- recovery key (https://spec.matrix.org/latest/client-server-api/#key-representation)


def _base58_encode(data: bytes) -> str:
    num = int.from_bytes(data, "big")
    out = ""
    while num:
        num, rem = divmod(num, 58)
        out = _BASE58[rem] + out
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + out


def _base58_decode(text: str) -> bytes:
    num = 0
    for ch in text:
        idx = _BASE58.find(ch)
        if idx < 0:
            raise ValueError("recovery key has a character that is not base58")
        num = num * 58 + idx
    zeros = len(text) - len(text.lstrip("1"))
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    return b"\0" * zeros + body


def _parity(data: bytes) -> int:
    parity = 0
    for byte in data:
        parity ^= byte
    return parity


def encode_recovery_key(key: bytes) -> str:
    """The 32-byte secret storage key as Element shows it: base58, groups of four."""
    if len(key) != 32:
        raise ValueError("a secret storage key has 32 bytes")
    raw = RECOVERY_KEY_PREFIX + key
    text = _base58_encode(raw + bytes([_parity(raw)]))
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def decode_recovery_key(text: str) -> bytes:
    """Reverse encode_recovery_key; whitespace is ignored. Raises ValueError."""
    raw = _base58_decode("".join(text.split()))
    if len(raw) != 35:
        raise ValueError("recovery key has the wrong length")
    if raw[:2] != RECOVERY_KEY_PREFIX:
        raise ValueError("recovery key has the wrong prefix")
    if _parity(raw) != 0:
        raise ValueError("recovery key parity check failed (typo?)")
    return raw[2:34]


# -- secret storage (m.secret_storage.v1.aes-hmac-sha2) ----------------------


def _ssss_keys(key: bytes, name: str) -> tuple[bytes, bytes]:
    aes_key, mac_key = HKDF(key, 32, b"\0" * 32, SHA256, num_keys=2, context=name.encode())
    return aes_key, mac_key


def _aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    return AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=iv).encrypt(data)


def ssss_encrypt(secret: str | bytes, key: bytes, name: str, iv: bytes | None = None) -> dict[str, str]:
    """Encrypt one secret for account data: {iv, ciphertext, mac}, base64."""
    if iv is None:
        iv = bytearray(secrets.token_bytes(16))
        iv[8] &= 0x7F  # clear bit 63: some AES-CTR implementations wrap at 64 bits
        iv = bytes(iv)
    plaintext = secret.encode() if isinstance(secret, str) else secret
    aes_key, mac_key = _ssss_keys(key, name)
    ciphertext = _aes_ctr(aes_key, iv, plaintext)
    mac = hmac.new(mac_key, ciphertext, sha256).digest()
    return {"iv": b64encode(iv), "ciphertext": b64encode(ciphertext), "mac": b64encode(mac)}


def ssss_decrypt(payload: dict[str, Any], key: bytes, name: str) -> bytes:
    """Check the MAC and decrypt; raises ValueError if the key or data is wrong."""
    try:
        iv, ciphertext, mac = (b64decode(payload[f]) for f in ("iv", "ciphertext", "mac"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError("malformed secret storage payload") from exc
    if len(iv) != 16:
        raise ValueError("secret storage iv must have 16 bytes")
    aes_key, mac_key = _ssss_keys(key, name)
    if not hmac.compare_digest(hmac.new(mac_key, ciphertext, sha256).digest(), mac):
        raise ValueError("secret storage MAC check failed (wrong key?)")
    return _aes_ctr(aes_key, iv, ciphertext)


def ssss_key_info(key: bytes) -> dict[str, str]:
    """Content of m.secret_storage.key.<id>: lets clients check a typed-in key."""
    check = ssss_encrypt(b"\0" * 32, key, "")
    return {"algorithm": SSSS_ALGORITHM, "iv": check["iv"], "mac": check["mac"]}


def ssss_key_matches(key: bytes, info: dict[str, Any]) -> bool:
    """True if key is the one described by an m.secret_storage.key.* content."""
    if info.get("algorithm") != SSSS_ALGORITHM or "iv" not in info or "mac" not in info:
        return False
    try:
        expected = ssss_encrypt(b"\0" * 32, key, "", iv=b64decode(info["iv"]))
        return hmac.compare_digest(b64decode(expected["mac"]), b64decode(info["mac"]))
    except (TypeError, ValueError):
        return False


# -- keys file ---------------------------------------------------------------


@dataclass
class CrossSigningKeys:
    """Private cross-signing keys (master and user-signing may be unknown after a restore)."""

    self_signing: SigningKey
    master: SigningKey | None = None
    user_signing: SigningKey | None = None
    ssss_key_id: str | None = None
    ssss_key: bytes | None = None

    @classmethod
    def generate(cls) -> CrossSigningKeys:
        return cls(
            master=SigningKey.generate(),
            self_signing=SigningKey.generate(),
            user_signing=SigningKey.generate(),
            ssss_key_id="".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32)),
            ssss_key=secrets.token_bytes(32),
        )

    def by_usage(self) -> dict[str, SigningKey | None]:
        return {MASTER: self.master, SELF_SIGNING: self.self_signing, USER_SIGNING: self.user_signing}


def _kdf(passphrase: str, salt: bytes, params: dict[str, int]) -> bytes:
    return scrypt(passphrase.encode(), salt, 32, N=params["n"], r=params["r"], p=params["p"])


def save_keys_file(path: Path, keys: CrossSigningKeys, passphrase: str, user_id: str) -> None:
    """Write keys encrypted with scrypt(passphrase) + AES-GCM, mode 0600, atomically."""
    plain = {
        "user_id": user_id,
        **{usage: b64encode(k.seed) if k else None for usage, k in keys.by_usage().items()},
        "ssss_key_id": keys.ssss_key_id,
        "ssss_key": b64encode(keys.ssss_key) if keys.ssss_key else None,
    }
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    cipher = AES.new(_kdf(passphrase, salt, _SCRYPT), AES.MODE_GCM, nonce=nonce)
    cipher.update(_KEYS_FILE_AAD)
    ciphertext, tag = cipher.encrypt_and_digest(json.dumps(plain).encode())
    doc = {
        "version": KEYS_FILE_VERSION,
        "kdf": "scrypt",
        **_SCRYPT,
        "salt": b64encode(salt),
        "nonce": b64encode(nonce),
        "ciphertext": b64encode(ciphertext),
        "tag": b64encode(tag),
    }
    _write_private(Path(path), json.dumps(doc, indent=2) + "\n")


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_keys_file(path: Path, passphrase: str, user_id: str) -> CrossSigningKeys:
    """Decrypt a keys file written by save_keys_file; raises KeysFileError."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise KeysFileError(f"no keys file at {path}") from exc
    except (OSError, ValueError) as exc:
        raise KeysFileError(f"keys file {path} is unreadable") from exc
    if not isinstance(doc, dict) or doc.get("version") != KEYS_FILE_VERSION or doc.get("kdf") != "scrypt":
        raise KeysFileError(f"keys file {path} has an unknown format")
    try:
        key = _kdf(passphrase, b64decode(doc["salt"]), {p: int(doc[p]) for p in _SCRYPT})
        cipher = AES.new(key, AES.MODE_GCM, nonce=b64decode(doc["nonce"]))
        cipher.update(_KEYS_FILE_AAD)
        plain = json.loads(cipher.decrypt_and_verify(b64decode(doc["ciphertext"]), b64decode(doc["tag"])))
    except (KeyError, TypeError, ValueError) as exc:
        raise KeysFileError(f"cannot decrypt keys file {path} (wrong passphrase?)") from exc
    if plain.get("user_id") != user_id:
        raise KeysFileError(f"keys file {path} belongs to another account")
    return _keys_from_plain(plain)


def _keys_from_plain(plain: dict[str, Any]) -> CrossSigningKeys:
    def key(usage: str) -> SigningKey | None:
        return SigningKey(b64decode(plain[usage])) if plain.get(usage) else None

    ssk = key(SELF_SIGNING)
    if ssk is None:
        raise KeysFileError("keys file has no self-signing key")
    ssss_key = plain.get("ssss_key")
    return CrossSigningKeys(
        self_signing=ssk,
        master=key(MASTER),
        user_signing=key(USER_SIGNING),
        ssss_key_id=plain.get("ssss_key_id"),
        ssss_key=b64decode(ssss_key) if ssss_key else None,
    )


# -- HTTP --------------------------------------------------------------------


@client_session
async def _open_session(client: nio.AsyncClient) -> None:
    """nio creates its aiohttp session lazily in its decorated API methods."""


async def _request(
    client: nio.AsyncClient, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    """One authenticated call on nio's HTTP session; waits out 429s."""
    await _open_session(client)
    headers = {"Authorization": f"Bearer {client.access_token}", "Content-Type": "application/json"}
    data = json.dumps(body) if body is not None else None
    for _ in range(5):
        resp = await client.send(method, path, data, headers)
        text = await resp.text()
        try:
            payload = json.loads(text) if text else {}
        except ValueError:
            payload = {"error": text[:200]}
        if resp.status != 429:
            return resp.status, payload if isinstance(payload, dict) else {}
        await asyncio.sleep(min(payload.get("retry_after_ms", 1000), 30_000) / 1000)
    return resp.status, payload


def _error(what: str, status: int, payload: dict[str, Any]) -> CrossSigningError:
    return CrossSigningError(f"{what} -> {status} {payload.get('errcode')}: {payload.get('error')}")


async def _call(
    client: nio.AsyncClient, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """_request that raises CrossSigningError unless the answer is 200."""
    status, payload = await _request(client, method, path, body)
    if status != 200:
        raise _error(f"{method} {path}", status, payload)
    return payload


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
    client: nio.AsyncClient, keys_file: Path, passphrase: str, password: str | None
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
    passphrase: str,
    password: str | None = None,
    recovery_key: str | None = None,
) -> CrossSigningStatus:
    """Make sure our device is signed by the account's self-signing key.

    Creates the account's cross-signing keys when it has none; otherwise uses
    keys_file, or secret storage unlocked with recovery_key. Never replaces
    existing keys. Server and network errors end up in the returned status;
    an unwritable keys_file raises OSError.
    """
    if not passphrase:
        raise ValueError("a passphrase for the cross-signing keys file is required")
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
    client: nio.AsyncClient, keys_file: Path, passphrase: str, password: str | None
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
    client: nio.AsyncClient, state: _ServerState, keys_file: Path, passphrase: str, recovery_key: str | None
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
