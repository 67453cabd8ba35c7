"""Headless Chromium (Debian's package) driven over the DevTools protocol, for the audit
report test: open a page, collect console errors and exceptions, evaluate an expression,
take a screenshot. A minimal WebSocket client (RFC 6455) keeps it free of dependencies."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

CHROMIUM = "/usr/bin/chromium"


def ensure_chromium() -> str:
    """The Chromium binary; installed from Debian's archive when missing (fresh CI machines)."""
    found = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True, env=env)
    found = shutil.which("chromium")
    assert found, "chromium was installed but is not on PATH"
    return found


class WebSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, url: str) -> WebSocket:
        m = re.match(r"ws://([^:/]+):(\d+)(/.*)", url)
        assert m, url
        host, port, path = m.group(1), int(m.group(2)), m.group(3)
        reader, writer = await asyncio.open_connection(host, port, limit=2**26)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert b" 101 " in head.split(b"\r\n", 1)[0], head
        return cls(reader, writer)

    async def send(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        header = bytes([0x81])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 2**16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.writer.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        await self.writer.drain()

    async def receive(self) -> str:
        chunks: list[bytes] = []
        while True:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack(">H", await self.reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack(">Q", await self.reader.readexactly(8))
            data = await self.reader.readexactly(n)
            if b0 & 0x0F in (0x1, 0x0):
                chunks.append(data)
                if b0 & 0x80:
                    return b"".join(chunks).decode()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


@dataclass
class Page:
    ws: WebSocket
    errors: list[str] = field(default_factory=list)
    next_id: int = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        await self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.ws.receive())
            self._note(msg)
            if msg.get("id") == ident:
                assert "error" not in msg, msg
                result: dict[str, Any] = msg.get("result", {})
                return result

    async def wait_for(self, event: str, timeout: float = 20) -> None:
        async def until() -> None:
            while True:
                msg = json.loads(await self.ws.receive())
                self._note(msg)
                if msg.get("method") == event:
                    return

        await asyncio.wait_for(until(), timeout)

    def _note(self, msg: dict[str, Any]) -> None:
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            self.errors.append(" ".join(str(a.get("value", "")) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            self.errors.append(str(params.get("exceptionDetails", {}).get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append(str(params["entry"].get("text")))

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


@contextlib.asynccontextmanager
async def open_page(url: str, *, width: int = 412, height: int = 915) -> AsyncIterator[Page]:
    """A phone-sized page in a fresh headless Chromium, loaded, with console errors collected
    from the start (Runtime and Log domains enabled before navigation)."""
    binary = ensure_chromium()
    with tempfile.TemporaryDirectory() as profile:
        proc = await asyncio.create_subprocess_exec(
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert proc.stderr is not None
            port = None
            while port is None:
                line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
                assert line, "chromium exited before DevTools listened"
                if m := re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line):
                    port = int(m.group(1))
            async with httpx.AsyncClient() as http:
                targets = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
            target = next(t for t in targets if t["type"] == "page")
            ws = await WebSocket.connect(target["webSocketDebuggerUrl"])
            page = Page(ws)
            try:
                for domain in ("Runtime", "Log", "Page"):
                    await page.call(f"{domain}.enable")
                await page.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=width, height=height, deviceScaleFactor=1, mobile=True,
                )  # fmt: skip
                await page.call("Page.navigate", url=url)
                await page.wait_for("Page.loadEventFired")
                yield page
            finally:
                await ws.close()
        finally:
            proc.kill()
            await proc.wait()


async def screenshot(page: Page) -> bytes:
    """A full-page PNG screenshot."""
    shot = await page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    return base64.b64decode(shot["data"])
