"""The same file goes to the media repository once; an upload made for a plain room never serves
an encrypted one, nor the other way round."""
from __future__ import annotations

import asyncio
from typing import Any

import nio

from bot.matrix.uploads import MediaUploads


class FakeMediaClient:
    """nio.AsyncClient.upload as far as MediaUploads uses it: each call is a new piece of media."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, bool]] = []
        self.entered = asyncio.Event()  # an upload has started
        self.gate = asyncio.Event()  # uploads finish once it is set
        self.gate.set()

    async def upload(self, provider: Any, *, content_type: str, filename: str, encrypt: bool,
                     filesize: int) -> tuple[Any, dict[str, Any] | None]:
        data = provider(0, 0).read()
        self.calls.append((data, encrypt))
        self.entered.set()
        await self.gate.wait()
        uri = f"mxc://example.org/media{len(self.calls)}"
        keys = {"key": {"k": f"key{len(self.calls)}"}, "iv": "iv", "hashes": {"sha256": "h"}, "v": "v2"}
        return nio.UploadResponse(uri), keys if encrypt else None


ICS = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"


async def test_the_same_file_is_uploaded_once_and_its_media_reused() -> None:
    client = FakeMediaClient()
    uploads = MediaUploads(client)  # type: ignore[arg-type]
    first = await uploads.content_keys(ICS, "text/calendar", "e.ics", encrypt=False)
    second = await uploads.content_keys(ICS, "text/calendar", "e.ics", encrypt=False)
    assert first == second == {"url": "mxc://example.org/media1"}
    assert len(client.calls) == 1
    other = await uploads.content_keys(ICS + b"X", "text/calendar", "e.ics", encrypt=False)
    assert other == {"url": "mxc://example.org/media2"}


async def test_plain_and_encrypted_uploads_are_never_mixed() -> None:
    client = FakeMediaClient()
    uploads = MediaUploads(client)  # type: ignore[arg-type]
    plain = await uploads.content_keys(ICS, "text/calendar", "e.ics", encrypt=False)
    secret = await uploads.content_keys(ICS, "text/calendar", "e.ics", encrypt=True)
    assert "url" in plain and "file" not in plain
    assert secret["file"]["url"] != plain["url"] and secret["file"]["key"] == {"k": "key2"}
    assert secret["file"]["mimetype"] == "text/calendar"
    assert [encrypt for _, encrypt in client.calls] == [False, True]
    again = await uploads.content_keys(ICS, "text/calendar", "e.ics", encrypt=False)
    assert again == plain and len(client.calls) == 2


async def test_askers_at_the_same_moment_share_one_upload() -> None:
    client = FakeMediaClient()
    client.gate.clear()
    uploads = MediaUploads(client)  # type: ignore[arg-type]
    asks = [asyncio.create_task(uploads.content_keys(ICS, "text/calendar", "e.ics", encrypt=True)) for _ in range(8)]
    await client.entered.wait()
    client.gate.set()
    results = await asyncio.gather(*asks)
    assert len(client.calls) == 1
    assert all(r == results[0] for r in results)


async def test_a_failed_upload_is_not_remembered() -> None:
    client = FakeMediaClient()
    uploads = MediaUploads(client)  # type: ignore[arg-type]
    real = client.upload

    async def fail_once(*args: Any, **kwargs: Any) -> tuple[Any, None]:
        client.upload = real  # type: ignore[method-assign]
        return nio.UploadError("media store unavailable"), None

    client.upload = fail_once  # type: ignore[method-assign]
    try:
        await uploads.content_keys(ICS, "text/calendar", "e.ics", encrypt=False)
    except ConnectionError as exc:
        assert "media store unavailable" in str(exc)
    else:
        raise AssertionError("a failed upload must raise, so the outbox retries it")
    assert await uploads.content_keys(ICS, "text/calendar", "e.ics", encrypt=False) == {"url": "mxc://example.org/media1"}
