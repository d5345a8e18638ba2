"""`kring demo`: a local Synapse, the bot, demo accounts, on this machine only.

Data lives in one folder (default .demo, git-ignored); a second run reuses the same homeserver,
accounts and bot device. Ctrl-C stops the bot and the homeserver cleanly."""
from __future__ import annotations

import json
import secrets
import socket
from datetime import datetime, timezone
from pathlib import Path

import yaml

from bot import logs
from bot.app import Kring
from bot.config import load_config
from bot.devserver import LocalSynapse
from storage import members

NETWORK = "demo"
ACCOUNTS = {  # localpart: (display name, role in the demo network)
    "coco": ("Coco Coordinator", "coordinator"),
    "fay": ("Fay Facilitator", "facilitator"),
    "ann": ("Ann Member", "member"),
    "ben": ("Ben Member", "member"),
    "cas": ("Cas Member", "member"),
}
PREFERRED_PORT = 8008


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _secrets(folder: Path) -> dict[str, str]:
    """Demo passwords and the bot's key passphrase, made once and kept (mode 0600)."""
    path = folder / "accounts.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {name: secrets.token_urlsafe(9) for name in [*ACCOUNTS, "kring", "key_passphrase"]}
    path.write_text(json.dumps(values, indent=1))
    path.chmod(0o600)
    return values


def _write_config(folder: Path, server: LocalSynapse, bot_user: str, passwords: dict[str, str]) -> Path:
    path = folder / "config.yaml"
    coordinator = f"@coco:{server.server_name}"
    config = {
        "matrix": {"homeserver": server.url, "user_id": bot_user, "password": passwords["kring"],
                   "device_name": "Kring demo", "store_path": str(folder / "bot" / "store"),
                   "key_passphrase": passwords["key_passphrase"]},
        "storage": {"database_url": f"sqlite+aiosqlite:///{folder / 'bot' / 'kring.db'}"},
        "bot": {"coordinators": [coordinator], "timezone": "Europe/Amsterdam", "language": "en"},
        "networks": [{"id": NETWORK, "name": "Demo network", "coordinators": [coordinator]}],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


async def _seed_roles(kring: Kring, server_name: str) -> None:
    now = datetime.now(timezone.utc)
    async with kring.db.transaction() as session:
        for localpart, (_name, role) in ACCOUNTS.items():
            user_id = f"@{localpart}:{server_name}"
            if NETWORK not in await members.roles(session, user_id):
                await members.set_role(session, NETWORK, user_id, role, now)


async def run_demo(folder: Path) -> None:
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    passwords = _secrets(folder)
    first_port = PREFERRED_PORT if _port_free(PREFERRED_PORT) else None
    server = LocalSynapse(folder / "synapse", port=first_port if not (folder / "synapse").exists() else None)
    await server.start()
    try:
        bot_user = await server.register_user("kring", passwords["kring"], displayname="Kring")
        for localpart, (name, _role) in ACCOUNTS.items():
            await server.register_user(localpart, passwords[localpart], displayname=name)
        config = load_config(_write_config(folder, server, bot_user, passwords))
        logs.setup("WARNING")
        kring = Kring(config)
        await kring.start()
        await _seed_roles(kring, server.server_name)
        _print_welcome(server, bot_user, passwords, folder)
        try:
            await kring.run_tasks()
        finally:
            await kring.stop()
    finally:
        await server.stop()


def _print_welcome(server: LocalSynapse, bot_user: str, passwords: dict[str, str], folder: Path) -> None:
    width = max(len(n) for n, _r in ACCOUNTS.values())
    logins = "\n".join(
        f"  {name:<{width}}  @{lp}:{server.server_name}  password: {passwords[lp]}  ({role})"
        for lp, (name, role) in ACCOUNTS.items()
    )
    print(f"""
Kring demo is running.

Homeserver: {server.url}   (point Element or any Matrix client at it; "Sign in" -> "Edit" homeserver)
Bot:        {bot_user}

Demo logins (kept in {folder / 'accounts.json'}):
{logins}

Log in as one of them, start a direct message with {bot_user} and type:  !help
Then try !ping; as Coco also !status.

Ctrl-C stops the bot and the homeserver; the next `make demo` reuses everything.
""", flush=True)
