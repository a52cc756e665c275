"""A headless Chromium driven over the DevTools protocol, for tests that need a real browser.

No websocket library is a dependency of the project, so this holds a minimal client (RFC 6455: the handshake,
masked text frames out, text/continuation/ping/close frames in) with the standard library only.

    with Browser.start(tmp_path) as browser:
        browser.navigate(url)
        value = browser.evaluate("document.title")
        assert not browser.errors
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

CHROMIUM = next(
    (
        shutil.which(c)
        for c in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
        if shutil.which(c)
    ),
    None,
)


class WebSocket:
    """One client connection; text messages only."""

    def __init__(self, url: str, timeout: float = 10.0):
        match = re.match(r"ws://([^:/]+):(\d+)(/.*)", url)
        if not match:
            raise ValueError(f"not a ws:// URL: {url}")
        host, port, path = match.group(1), int(match.group(2)), match.group(3)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        head, self.buffer = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket handshake refused: {head[:200]!r}")

    def send(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        header = bytes([0x81])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("websocket closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _frame(self) -> tuple[bool, int, bytes]:
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8))[0]
        mask = self._read(4) if b1 & 0x80 else None
        data = self._read(n)
        if mask:
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        return bool(b0 & 0x80), b0 & 0x0F, data

    def recv(self) -> str:
        parts: list[bytes] = []
        while True:
            fin, opcode, data = self._frame()
            if opcode == 0x8:
                raise ConnectionError("websocket closed by the browser")
            if opcode == 0x9:  # ping: answer with a masked pong
                mask = os.urandom(4)
                self.sock.sendall(
                    bytes([0x8A, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))
                )
                continue
            if opcode in (0x0, 0x1):
                parts.append(data)
                if fin:
                    return b"".join(parts).decode()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Browser:
    """A headless Chromium and its first page, with the page's errors collected in :attr:`errors`."""

    def __init__(self, process: subprocess.Popen, ws: WebSocket):
        self.process, self.ws = process, ws
        self.errors: list[str] = []
        self.events: list[dict] = []
        self._next = 0

    @classmethod
    def start(cls, tmp: Path, timeout: float = 20.0) -> Browser:
        if CHROMIUM is None:
            raise RuntimeError("no chromium binary")
        profile = Path(tmp) / "chromium-profile"
        args = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        args += ["--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"]
        log = Path(tmp) / "chromium.log"
        with open(log, "wb") as sink:  # a file, not a pipe: a pipe nobody drains would block the browser
            process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=sink)
        try:
            endpoint = _listening(process, log, timeout)
            port = re.match(r"ws://[^:]+:(\d+)/", endpoint).group(1)
            page = _first_page(port, timeout)
            browser = cls(process, WebSocket(page, timeout))
            for method in ("Runtime.enable", "Log.enable", "Page.enable"):
                browser.call(method)
            return browser
        except BaseException:
            _stop(process)
            raise

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.ws.close()
        _stop(self.process)

    def _event(self, message: dict) -> None:
        self.events.append(message)
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")

    def call(self, method: str, **params) -> dict:
        self._next += 1
        ident = self._next
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def wait_for(self, method: str, timeout: float = 15.0) -> dict:
        if any(e.get("method") == method for e in self.events):
            return next(e for e in self.events if e.get("method") == method)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if "method" in message:
                self._event(message)
                if message["method"] == method:
                    return message
        raise TimeoutError(f"no {method} within {timeout} s")

    def navigate(self, url: str, timeout: float = 15.0) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired", timeout)

    def evaluate(self, expression: str):
        """The value of a JS expression (promises awaited); a thrown exception is raised here."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def settle(self, seconds: float = 0.5) -> None:
        """Collect the events that arrive within ``seconds`` (late console errors, a failed media load)."""
        self.ws.sock.settimeout(seconds)
        try:
            while True:
                message = json.loads(self.ws.recv())
                if "method" in message:
                    self._event(message)
        except TimeoutError:
            pass
        finally:
            self.ws.sock.settimeout(10.0)


def _listening(process: subprocess.Popen, log: Path, timeout: float) -> str:
    """The browser's ``ws://`` endpoint, read from its ``DevTools listening on`` line on stderr."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        match = re.search(r"DevTools listening on (ws://\S+)", text)
        if match:
            return match.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited ({process.returncode}): {text[-2000:]}")
        time.sleep(0.05)
    raise TimeoutError(f"chromium did not say where DevTools listens: {text[-2000:]}")


def _first_page(port: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
            pages = [t for t in json.load(response) if t.get("type") == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise TimeoutError("chromium has no page target")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
