"""Memory of Kring while it takes in a 64 MB PDF in a case intake, against its own idle memory in
the same run.

    .venv/bin/python bench/case_pdf.py [--mb 64] [--runs 3]

Set-up: a local Synapse; Kring as a process of its own (bench/procs.py); a member on an
end-to-end encrypted nio client who opens an encrypted DM with Kring and goes through `!case` up
to the step that asks for the PDF. Then, per run:
- idle RSS: Kring's resident set once it has been idle (under 2% of a core) for 2 s;
- its peak (VmHWM) is reset (/proc/PID/clear_refs), the member sends the PDF as an encrypted
  attachment (what Element sends), and the run ends when Kring answers that it kept it;
- peak RSS: VmHWM of that stretch: the download, its decryption on the way to disk, the check,
  and the encryption into the vault;
- seconds from the upload's end to Kring's answer.
Each run is an intake of its own, stopped after the PDF (the sweep erases its file).
"""
from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import nio  # noqa: E402

from bot.dev.synapse import LocalSynapse  # noqa: E402
from procs import kring_process  # noqa: E402
from registration_burst import PASSWORD, new_account  # noqa: E402
from tests.integration.members import NioMember  # noqa: E402


def reset_peak(pid: int) -> None:
    """VmHWM starts again from the current resident set (Linux 4.0+)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def a_pdf(size: int) -> bytes:
    head = b"%PDF-1.7\n% bench\n1 0 obj\n<<>>\nendobj\n"
    tail = b"\n%%EOF\n"
    return head + os.urandom(size - len(head) - len(tail)) + tail


async def answer(member: NioMember, bot: str, room: str, event_id: str, timeout: float = 600) -> str:
    return (await member.reply_to(bot, room, event_id, timeout=timeout)).content.get("body", "")


async def send_pdf(member: NioMember, room: str, data: bytes) -> tuple[str, float]:
    resp, keys = await member.client.upload(lambda *_: io.BytesIO(data), content_type="application/pdf",
                                            filename="case.pdf", encrypt=True, filesize=len(data))
    assert isinstance(resp, nio.UploadResponse), resp
    uploaded = time.perf_counter()
    event_id = await member.send(room, "case.pdf", msgtype="m.file", filename="case.pdf",
                                 info={"mimetype": "application/pdf", "size": len(data)},
                                 file={**keys, "url": resp.content_uri, "mimetype": "application/pdf"})
    return event_id, uploaded


async def main(mb: float, runs: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kring-case-pdf-"))
    synapse = LocalSynapse(tmp / "synapse")
    kring = member = None
    try:
        await synapse.start()
        kring_id = (await new_account(synapse, "kring")).user_id
        dave_id = await synapse.register_user("dave", PASSWORD)
        kring = kring_process(tmp / "kring", synapse.url, kring_id, PASSWORD, [dave_id])
        await kring.start()
        member = NioMember(synapse.url, dave_id, PASSWORD, tmp / "dave-store")
        await member.start()
        room = await member.dm(kring_id, encrypted=True)
        size = int(mb * 1024 * 1024) - 4096  # under the limit, and under Synapse's max_upload_size
        idle, peak, took = [], [], []
        for _ in range(runs):
            for text in ("!case", "1", "Bench case", "A text.", "done", "2", "2"):
                said = await answer(member, kring_id, room, await member.send(room, text))
            assert "PDF" in said, said
            data = a_pdf(size)
            await kring.idle(for_s=2.0)
            idle.append(kring.memory()[0])
            reset_peak(kring.pid)
            event_id, uploaded = await send_pdf(member, room, data)
            said = await answer(member, kring_id, room, event_id)
            assert "kept your PDF" in said, said
            took.append(time.perf_counter() - uploaded)
            peak.append(kring.memory()[1])
            del data
            await answer(member, kring_id, room, await member.send(room, "!stop"))
        print(f"PDF of {size / 1024 / 1024:.1f} MiB taken in by Kring, {runs} runs (median):")
        print(f"  idle RSS        {statistics.median(idle):7.1f} MiB")
        print(f"  peak RSS        {statistics.median(peak):7.1f} MiB  (+{statistics.median(peak) - statistics.median(idle):.1f} MiB, "
              f"x{statistics.median(peak) / statistics.median(idle):.2f})")
        print(f"  upload -> kept  {statistics.median(took):7.2f} s")
        print("  runs: " + "; ".join(f"idle {i:.1f} / peak {p:.1f} MiB / {t:.2f} s" for i, p, t in zip(idle, peak, took)))
    finally:
        if member:
            await member.close()
        if kring:
            await kring.stop()
        await synapse.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=64)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(args.mb, args.runs))
