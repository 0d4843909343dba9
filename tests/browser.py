#!/usr/bin/env python3
"""Drive Debian's headless Chromium through the DevTools protocol.

The protocol runs over the pipe Chromium opens with --remote-debugging-pipe
(it reads commands from fd 3 and writes to fd 4, one JSON message per NUL),
so only the standard library is needed and nothing listens on a port.

    browser.py URL CHECKS.js SCREENSHOT.png [--timeout S] [--signal KEY=FILE]...

Loads URL, then evaluates CHECKS.js in the page every 200 ms until it
returns an object whose "ok" is true (or the timeout passes), saves a
screenshot of the whole page, and prints the last result as JSON. With
--signal, the first result whose KEY is true creates FILE: the test's
processes can wait for what the page has seen (a running task goes on
once its first line has shown). The exit
code is 0 when the checks passed, 1 when they did not, 77 when there is no
chromium. The browser gets a fresh profile and is told not to reach the
network: every page it opens must be on loopback.
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, binary, profile):
        r3, w3 = os.pipe()          # we write commands, chromium reads fd 3
        r4, w4 = os.pipe()          # chromium writes fd 4, we read
        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--disable-default-apps", "--no-default-browser-check", "--mute-audio",
                "--user-data-dir=" + profile, "--remote-debugging-pipe", "about:blank"]

        def fds():
            # out of the way first: r3 or w4 may themselves be 3 or 4
            a = fcntl.fcntl(r3, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(w4, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)
        # pass_fds keeps 3 and 4 open: the fds are closed after preexec_fn
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=fds, pass_fds=(3, 4), close_fds=True)
        os.close(r3)
        os.close(w4)
        self.out = os.fdopen(w3, "wb", buffering=0)
        self.inp = os.fdopen(r4, "rb", buffering=0)
        self.buf = b""
        self.next_id = 0
        self.session = None

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer")
            ready, _, _ = select.select([self.inp], [], [], 0.5)
            if ready:
                chunk = self.inp.read(65536)
                if not chunk:
                    raise EOFError("chromium closed the pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self.out.write(json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def open(self, url, width, height):
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        att = self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                        session=False)
        self.session = att["sessionId"]
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            return {"ok": False, "exception": r["exceptionDetails"].get("text", "?"),
                    "detail": str(r["exceptionDetails"].get("exception", {}).get("description"))}
        return r.get("result", {}).get("value")

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    url, checks_file, shot = sys.argv[1:4]
    timeout, signals = 30, {}
    rest = sys.argv[4:]
    while len(rest) >= 2:
        if rest[0] == "--timeout":
            timeout = float(rest[1])
        elif rest[0] == "--signal" and "=" in rest[1]:
            key, path = rest[1].split("=", 1)
            signals[key] = path
        else:
            print(__doc__, file=sys.stderr)
            return 2
        rest = rest[2:]
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        print("browser.py: no chromium (deploy/install-deps.sh installs it)", file=sys.stderr)
        return 77
    with open(checks_file) as f:
        checks = f.read()
    profile = tempfile.mkdtemp(prefix="swarm-chromium-")
    b = Browser(binary, profile)
    result = {"ok": False, "why": "never evaluated"}
    try:
        b.open(url, 1400, 1000)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = b.evaluate(checks) or {"ok": False}
            for key, path in list(signals.items()):
                if result.get(key):
                    open(path, "w").close()
                    del signals[key]
            if result.get("ok"):
                break
            time.sleep(0.2)
        time.sleep(0.3)             # let the last paint land
        b.screenshot(shot)
    finally:
        b.close()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(result, indent=1))
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
