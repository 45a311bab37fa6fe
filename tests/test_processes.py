"""`tests.processes`: the child-process helper of the suites, the benchmarks and `make cluster`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from tests.processes import ChildProcess, ProcessError, free_port, port_is_free, usage

#: A tiny HTTP server: 404 for every path but /ok, which answers 200.
SERVE = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/ok" else 404); self.end_headers()
    def log_message(self, *a): print("served", self.path, flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def test_a_server_is_ready_when_it_answers_and_its_output_is_in_the_log(tmp_path: Path) -> None:
    port = free_port()
    child = ChildProcess("web", [sys.executable, "-c", SERVE, str(port)],
                         log_path=tmp_path / "web.log").start()
    try:
        child.wait_http(f"http://127.0.0.1:{port}/ok", timeout=30)
        assert not port_is_free(port)
        child.wait_http(f"http://127.0.0.1:{port}/missing", timeout=30, below=500)  # a 404
        assert usage(child.pid).rss > 0
    finally:
        code = child.stop()
    assert code == -signal.SIGTERM
    assert "served /ok" in (tmp_path / "web.log").read_text()
    assert port_is_free(port)


def test_a_child_that_exits_early_fails_with_its_log(tmp_path: Path) -> None:
    child = ChildProcess("broken", [sys.executable, "-c", "print('no config'); exit(3)"],
                         log_path=tmp_path / "broken.log").start()
    with pytest.raises(ProcessError, match=r"broken exited 3 .*no config"):
        child.wait_ready(lambda: False, timeout=30)


def test_a_child_never_ready_is_stopped_after_the_timeout(tmp_path: Path) -> None:
    child = ChildProcess("slow", [sys.executable, "-c", "import time; time.sleep(60)"],
                         log_path=tmp_path / "slow.log").start()
    with pytest.raises(ProcessError, match=r"slow was not ready within 0\.3 s"):
        child.wait_ready(lambda: False, timeout=0.3)
    assert child.exited() is not None


def test_stop_kills_a_child_that_ignores_its_signal(tmp_path: Path) -> None:
    stubborn = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('up', flush=True); time.sleep(60)")
    log = tmp_path / "stubborn.log"
    child = ChildProcess("stubborn", [sys.executable, "-c", stubborn], log_path=log).start()
    child.wait_ready(lambda: "up" in log.read_text(), timeout=30)
    assert child.stop(timeout=0.5) == -signal.SIGKILL
    assert child.stop() == -signal.SIGKILL  # stopping again only reports
