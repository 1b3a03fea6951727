"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol, for the report tests.

:func:`open_page` loads a file, waits for its load event and returns what a reader would meet:
console errors and uncaught exceptions, failed loads (log entries of level error), the page's
images with their decoded sizes, and a PNG screenshot of the whole page.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The flags that work on this machine (no GPU, no sandbox as root, a closed network).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
    "--window-size=1280,900",
)


def chromium() -> str | None:
    """``GOVCLOUD_CHROMIUM`` or Debian's ``chromium`` on PATH."""
    return os.environ.get("GOVCLOUD_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Page:
    title: str = ""
    errors: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""
    screenshot: bytes = b""


class _Session:
    def __init__(self, url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.events.append(json.loads(self.ws.recv()))


def open_page(path: Path, executable: str) -> Page:
    """Load ``path`` in headless Chromium and report on it."""
    profile = tempfile.mkdtemp(prefix="govcloud-chromium-")
    process = subprocess.Popen(
        [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        session = _Session(_page_socket(Path(profile), process))
        for domain in ("Page", "Runtime", "Log"):
            session.call(f"{domain}.enable")
        session.call("Page.navigate", url=path.resolve().as_uri())
        session.wait_for("Page.loadEventFired")
        probe = session.call(
            "Runtime.evaluate",
            returnByValue=True,
            expression="""JSON.stringify({
            title: document.title,
            text: document.body.innerText,
            images: [...document.images].map(i => ({id: i.id, complete: i.complete, width: i.naturalWidth,
                                                   height: i.naturalHeight}))})""",
        )
        data = json.loads(probe["result"]["value"])
        shot = session.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        return Page(
            data["title"], _errors(session.events), data["images"], data["text"], base64.b64decode(shot["data"])
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


def _page_socket(profile: Path, process: subprocess.Popen, timeout: float = 60) -> str:
    """The page's DevTools websocket, once Chromium has written its port."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while not (port_file.exists() and port_file.read_text().strip()):
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError("chromium did not open its DevTools port")
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as answer:
        targets = json.load(answer)
    return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")


def _errors(events: list[dict[str, Any]]) -> list[str]:
    """Console errors, uncaught exceptions and error log entries (failed loads)."""
    out = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            out.append("exception: " + params["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            out.append("log: " + params["entry"].get("text", ""))
    return out
