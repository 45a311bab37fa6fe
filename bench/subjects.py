"""The servers a benchmark compares, started the way an operator would start each.

* ``watercooler``: ``watercooler.py`` (our server), memory broker or ``--broker redis://``.
* ``naive``: the book's first version, ``bench/peers/naive_tornado.py``: one loop writing
  the message to every subscriber (the floor of what Tornado does without our work).
* ``floor``: the same file with ``--floor``: one raw ``send`` of a prebuilt frame per
  subscriber, the least a Python server can do per delivered frame (fan-out only).
* ``channels``: Django Channels under daphne, ``bench/peers/channels_app``, with the
  in-memory channel layer (one node) or channels_redis (several).

All three speak the same subset: ``ws://…/<sprint>/?token=…``, ``POST /events/`` (the
signed Django batch, protocol §7; the same event frame bytes go out), ``relay`` frames,
``GET /healthz``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.procs import ROOT, Server, free_port

__all__ = ["BENCH_SECRET", "SUBJECTS", "start_subject"]

BENCH_SECRET = "bench-realtime-secret-not-for-production"
SUBJECTS = ("watercooler", "naive", "channels", "floor")
_BIN = Path(sys.executable).parent


def start_subject(name: str, *, broker: str | None = None, log_dir: Path | None = None,
                  extra: tuple[str, ...] = ()) -> Server:
    """Start ``name`` on a free port and wait until it is healthy."""
    port = free_port()
    if name == "watercooler":
        # The load generators hold thousands of sockets from a few loopback addresses, on
        # tickets shared by many connections: the per-address and per-user limits (made for
        # clients, docs/protocol.md §5) are lifted to measure the server itself.
        argv = [sys.executable, "watercooler.py", f"--port={port}", f"--secret={BENCH_SECRET}",
                "--max-connections-per-address=0", "--max-connections-per-user=0", *extra]
        if broker:
            argv.append(f"--broker={broker}")
        return Server(name, argv, port, log_dir=log_dir).start()
    if name in ("naive", "floor"):
        argv = [sys.executable, "-m", "bench.peers.naive_tornado", f"--port={port}"]
        if name == "floor":
            argv.append("--floor")
        return Server(name, argv, port, log_dir=log_dir).start()
    if name == "channels":
        argv = [str(_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "-v", "0",
                "bench.peers.channels_app.asgi:application"]
        env = {"DJANGO_SETTINGS_MODULE": "bench.peers.channels_app.settings",
               "BENCH_SECRET": BENCH_SECRET, "CHANNELS_LAYER": broker or "memory://",
               "PYTHONPATH": str(ROOT)}
        return Server(name, argv, port, env=env, log_dir=log_dir).start()
    raise ValueError(f"unknown subject {name!r}; one of {', '.join(SUBJECTS)}")
