"""The board API for the workloads that go through REST (``e2e``, ``drops``): Django under
gunicorn on a temporary SQLite database, publishing to one realtime node.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.procs import ROOT, Server, free_port
from bench.subjects import BENCH_SECRET

__all__ = ["Django"]


class Django:
    """The board API under gunicorn on a temporary SQLite database, publishing to ``realtime``."""

    def __init__(self, workdir: Path, log_dir: Path) -> None:
        self.workdir = workdir
        self.log_dir = log_dir
        self.env = {"DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
                    "SECRET_KEY": "bench-only", "DEBUG": "false",
                    "REALTIME_SECRET": BENCH_SECRET, "DJANGO_SETTINGS_MODULE": "api.settings"}
        self._sprints = 0

    def migrate(self) -> None:
        env = {**os.environ, **self.env}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT,
                       env=env, check=True, capture_output=True)
        subprocess.run([sys.executable, "manage.py", "shell", "-c",
                        "from django.contrib.auth import get_user_model;"
                        "get_user_model().objects.create_user('bench', password='bench-pass-9')"],
                       cwd=ROOT, env=env, check=True, capture_output=True)

    def start(self, realtime_port: int, *, shared_httpx: bool = False) -> Server:
        port = free_port()
        env = {**self.env, "REALTIME_URL": f"http://127.0.0.1:{realtime_port}",
               "REALTIME_PUBLIC_URL": f"ws://127.0.0.1:{realtime_port}"}
        if shared_httpx:  # bench/experiments/shared_httpx: one httpx.Client per process
            env["PYTHONPATH"] = os.pathsep.join(
                [str(ROOT / "bench" / "experiments" / "shared_httpx"), str(ROOT)])
        argv = [str(Path(sys.executable).parent / "gunicorn"), "api.wsgi:application",
                "-b", f"127.0.0.1:{port}", "-w", "1", "-k", "gthread", "--threads", "4",
                "--log-level", "warning"]
        return Server("django", argv, port, health="/admin/login/", env=env,
                      log_dir=self.log_dir).start()

    def call(self, server: Server, method: str, path: str, body: dict[str, Any] | None,
             token: str | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        req = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers=headers)
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer: dict[str, Any] = json.loads(resp.read())
            return answer

    def board(self, server: Server) -> dict[str, Any]:
        """A fresh sprint and task; the API token and a realtime ticket for the sprint."""
        token = self.call(server, "POST", "/api/token/",
                          {"username": "bench", "password": "bench-pass-9"})["token"]
        self._sprints += 1
        end = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400 * (30 + self._sprints)))
        sprint = self.call(server, "POST", "/api/sprints/",
                           {"name": "bench", "description": "", "end": end}, token)
        task = self.call(server, "POST", "/api/tasks/",
                         {"name": "bench task", "sprint": sprint["id"]}, token)
        ticket = self.call(server, "POST", f"/api/sprints/{sprint['id']}/realtime/", None, token)
        return {"api_token": token, "sprint": sprint["id"], "task": task["id"],
                "ws_token": ticket["token"]}
