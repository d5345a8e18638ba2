"""One authenticated call to the homeserver on nio's HTTP session, for bot/matrix/crosssign.py
(matrix-nio has no cross-signing API)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nio
from nio.client.async_client import client_session

from bot.matrix.crosssign_keys import CrossSigningError

API = "/_matrix/client/v3"


@client_session
async def _open_session(client: nio.AsyncClient) -> None:
    """nio creates its aiohttp session lazily in its decorated API methods."""


async def request(
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


def http_error(what: str, status: int, payload: dict[str, Any]) -> CrossSigningError:
    return CrossSigningError(f"{what} -> {status} {payload.get('errcode')}: {payload.get('error')}")


async def call(
    client: nio.AsyncClient, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """request() that raises CrossSigningError unless the answer is 200."""
    status, payload = await request(client, method, path, body)
    if status != 200:
        raise http_error(f"{method} {path}", status, payload)
    return payload
