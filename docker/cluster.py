#!/usr/bin/env python3
"""`make cluster`: the shape of docker/compose.yaml without Docker, on this machine.

Redis (already running; REDIS_URL), Django under gunicorn plus the outbox deliverer,
N realtime nodes on the Redis broker, and nginx in front with the configuration rendered
from the same template compose uses (docker/nginx/watercooler.conf.template). Ports are
picked here, everything else lives in the run directory (default run/cluster/: nginx
config, logs, SQLite database unless DATABASE_URL is set, cluster.json describing the
running cluster). Ctrl-C (or SIGTERM) stops everything, nginx first. Over 300 lines (about
400) on purpose, one file: `make cluster` runs it as a script, and the deployment tests load
this same file; starting and stopping children is `tests/processes.py`'s job.

    python docker/cluster.py [--port 8000] [--nodes 2] [--run-dir run/cluster]
    python docker/cluster.py --render-only     # write the nginx config and exit
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script, only docker/ is on the path
    sys.path.insert(0, str(ROOT))

from tests.processes import (  # noqa: E402 - needs ROOT on the path first
    ChildProcess,
    ProcessError,
    free_port,
    port_is_free,
)

NGINX_DIR = ROOT / "docker" / "nginx"
SITE_TEMPLATE = NGINX_DIR / "watercooler.conf.template"
MAIN_TEMPLATE = NGINX_DIR / "cluster.conf.template"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
#: DEV ONLY: the same development secret both servers fall back to; set REALTIME_SECRET.
DEV_REALTIME_SECRET = "dev-realtime-secret-change-me"
DEMO_LOGINS = "demo / demo (and ana / ana in a second window)"
PLACEHOLDER = re.compile(r"\$\{(WATERCOOLER_[A-Z_]+)\}")
#: nginx's websockets per client address (compose: WS_CONNECTIONS_PER_ADDRESS).
WS_PER_ADDRESS = 200


class ClusterError(Exception):
    """Something the operator must fix before the cluster can start; the message says what."""


# --- nginx configuration -----------------------------------------------------------------


def render_template(text: str, values: Mapping[str, str]) -> str:
    """Fill every ``${WATERCOOLER_*}`` placeholder (nginx's own ``$vars`` are left alone).

    Raises ``ClusterError`` for a placeholder without a value, so a new one in the template
    cannot silently render empty.
    """
    missing = sorted({m for m in PLACEHOLDER.findall(text) if m not in values})
    if missing:
        raise ClusterError(f"no value for nginx template placeholder(s): {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def upstream_servers(addresses: list[str]) -> str:
    """The ``server`` lines of the realtime upstream (as compose's WATERCOOLER_REALTIME_SERVERS)."""
    return " ".join(f"server {a} max_fails=1 fail_timeout=5s;" for a in addresses)


def write_nginx_config(run_dir: Path, *, listen: str, events_listen: str, django: str,
                       nodes: list[str]) -> Path:
    """Render both templates into ``run_dir``; returns the main config's path."""
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    (run_dir / "nginx-temp").mkdir(exist_ok=True)
    site = run_dir / "watercooler.conf"
    site.write_text(render_template(SITE_TEMPLATE.read_text(), {
        "WATERCOOLER_LISTEN": listen,
        "WATERCOOLER_EVENTS_LISTEN": events_listen,
        "WATERCOOLER_DJANGO": django,
        "WATERCOOLER_REALTIME_SERVERS": upstream_servers(nodes),
        "WATERCOOLER_WS_PER_ADDRESS": str(WS_PER_ADDRESS),
    }))
    main = run_dir / "nginx.conf"
    main.write_text(render_template(MAIN_TEMPLATE.read_text(), {
        "WATERCOOLER_RUN_DIR": str(run_dir),
        "WATERCOOLER_SITE_CONF": str(site),
    }))
    return main


def find_nginx() -> str:
    """The nginx binary (Debian puts it in /usr/sbin, often not on a user's PATH)."""
    found = os.environ.get("NGINX") or shutil.which("nginx") or shutil.which(
        "nginx", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise ClusterError("nginx is not installed: run `make system-deps` (Debian package "
                           "nginx) or set NGINX=/path/to/nginx")
    return found


def nginx_command(nginx: str, conf: Path, *extra: str) -> list[str]:
    """nginx with every path in the run directory (``-e``: no /var/log at start-up)."""
    run_dir = conf.parent
    return [nginx, "-p", f"{run_dir}/", "-c", str(conf), "-e",
            str(run_dir / "logs" / "nginx-error.log"), *extra]


def nginx_test(nginx: str, conf: Path) -> None:
    """``nginx -t`` on the rendered config; raises ``ClusterError`` with its output."""
    proc = subprocess.run(nginx_command(nginx, conf, "-t"), capture_output=True, text=True,
                          timeout=30)
    if proc.returncode != 0:
        raise ClusterError(f"nginx -t refused {conf}:\n{proc.stderr.strip()}")


# --- processes ---------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the launcher dies (even by SIGKILL). Linux only."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Service:
    """One child process of the cluster, its output in ``logs/<name>.log``."""

    name: str
    argv: list[str]
    stop_signal: int = signal.SIGTERM
    child: ChildProcess | None = field(default=None, repr=False)

    def start(self, env: Mapping[str, str], log_dir: Path) -> None:
        # Own session: the terminal's Ctrl-C reaches only the launcher, which stops the
        # services in order.
        self.child = ChildProcess(self.name, self.argv, log_path=log_dir / f"{self.name}.log",
                                  env=env, stop_signal=self.stop_signal,
                                  preexec=_die_with_parent, new_session=True).start()

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child else None

    def exited(self) -> int | None:
        return None if self.child is None else self.child.exited()

    def wait_ready(self, url: str, timeout: float) -> None:
        """Until ``url`` answers below 500; ``ClusterError`` (with the log's tail) if the
        service exits first or time is up."""
        assert self.child is not None
        try:
            self.child.wait_http(url, timeout=timeout, below=500)
        except ProcessError as exc:
            raise ClusterError(f"{exc}\n(log: {self.child.log_path})") from None

    def stop(self, timeout: float = 10) -> None:
        if self.child is not None:
            self.child.stop(timeout=timeout)


def check_redis(url: str) -> None:
    import redis  # the broker's own client, from requirements.txt

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except (redis.RedisError, ValueError) as exc:
        raise ClusterError(
            f"Redis at {url} is not reachable ({exc}). Start it (redis-server --daemonize yes "
            "--bind 127.0.0.1 --port 6379 --save '' --appendonly no) or set REDIS_URL."
        ) from None


# --- the cluster -------------------------------------------------------------------------


@dataclass
class Plan:
    """Ports and settings of one cluster; written to ``<run dir>/cluster.json``."""

    run_dir: str
    port: int
    events_port: int
    django_port: int
    node_ports: list[int]
    redis_url: str
    broker: str
    database_url: str
    url: str = ""
    ws_url: str = ""
    pids: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"


def make_plan(args: argparse.Namespace, environ: Mapping[str, str]) -> Plan:
    run_dir = Path(args.run_dir).resolve()
    port = args.port if args.port else free_port()
    if args.port and not port_is_free(port):
        raise ClusterError(f"port {port} is in use: pass --port (0 picks a free one)")
    database_url = environ.get("DATABASE_URL") or f"sqlite:///{run_dir / 'db.sqlite3'}"
    return Plan(run_dir=str(run_dir), port=port, events_port=free_port(),
                django_port=free_port(), node_ports=[free_port() for _ in range(args.nodes)],
                redis_url=args.redis_url, broker=args.broker or args.redis_url,
                database_url=database_url)


def service_env(plan: Plan, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of every service: what compose sets, pointed at this machine."""
    public = plan.url
    return {
        **environ,
        "DEBUG": environ.get("DEBUG", "false"),
        "DATABASE_URL": plan.database_url,
        "SITE_URL": public,
        "REALTIME_URL": f"http://127.0.0.1:{plan.events_port}",
        "REALTIME_PUBLIC_URL": plan.ws_url,
        "REALTIME_SECRET": environ.get("REALTIME_SECRET") or DEV_REALTIME_SECRET,
        "REALTIME_ALLOWED_ORIGINS": f"{public},http://localhost:{plan.port}",
        "PYTHONUNBUFFERED": "1",
        # Django sits behind nginx: the client is the last X-Forwarded-For entry.
        "API_NUM_PROXIES": environ.get("API_NUM_PROXIES", "1"),
        # Every gunicorn worker counts API rate limits in the same place.
        "CACHE_URL": environ.get("CACHE_URL") or plan.redis_url,
    }


def services(plan: Plan, nginx: str, conf: Path, workers: int) -> list[Service]:
    """Start order: Django, the deliverer, the nodes, nginx (stopped in reverse)."""
    py = sys.executable
    gunicorn = str(Path(py).with_name("gunicorn"))
    out = [
        Service("django", [gunicorn, "api.wsgi:application",
                           f"--bind=127.0.0.1:{plan.django_port}", f"--workers={workers}",
                           "--access-logfile=-", "--graceful-timeout=5"]),
        Service("delivery", [py, "manage.py", "deliver_events", "--poll", "1"],
                stop_signal=signal.SIGINT),
    ]
    # nginx appends the client's address to X-Forwarded-For: the nodes' per-address
    # connection limit counts clients, not nginx.
    out += [Service(f"realtime{i}", [py, "watercooler.py", f"--port={port}",
                                     f"--broker={plan.broker}", "--num-proxies=1"])
            for i, port in enumerate(plan.node_ports, 1)]
    out.append(Service("nginx", nginx_command(nginx, conf)))
    return out


def prepare_django(env: Mapping[str, str], log_dir: Path) -> None:
    """Migrations and the demo seed, as `make run` does."""
    for argv in (["manage.py", "migrate", "--noinput"], ["manage.py", "seed_demo"]):
        with (log_dir / "django-setup.log").open("ab") as log:
            proc = subprocess.run([sys.executable, *argv], cwd=ROOT, env=dict(env),
                                  stdout=log, stderr=subprocess.STDOUT, timeout=300)
        if proc.returncode != 0:
            tail = (log_dir / "django-setup.log").read_text()[-2000:]
            raise ClusterError(f"`{' '.join(argv)}` failed:\n{tail}")


class Cluster:
    """Start the services in order, watch them, stop them in reverse order."""

    def __init__(self, plan: Plan, members: list[Service], env: Mapping[str, str]) -> None:
        self.plan = plan
        self.members = members
        self.env = env
        self.log_dir = Path(plan.run_dir) / "logs"

    def start(self, timeout: float = 60) -> None:
        readiness = {
            "django": f"http://127.0.0.1:{self.plan.django_port}/admin/login/",
            "nginx": f"{self.plan.url}/",
        }
        ports = dict(zip((s.name for s in self.members if s.name.startswith("realtime")),
                         self.plan.node_ports, strict=True))
        for name, port in ports.items():
            readiness[name] = f"http://127.0.0.1:{port}/healthz"
        for svc in self.members:
            svc.start(self.env, self.log_dir)
            url = readiness.get(svc.name)
            if url:
                svc.wait_ready(url, timeout)
            self.plan.pids[svc.name] = svc.pid or 0
        (Path(self.plan.run_dir) / "cluster.json").write_text(
            json.dumps(asdict(self.plan), indent=2) + "\n")

    def watch(self, stop: Callable[[], bool]) -> str | None:
        """Until ``stop()``; the name of a service that exited on its own, if one did."""
        while not stop():
            for svc in self.members:
                if svc.exited() is not None:
                    return svc.name
            time.sleep(0.2)
        return None

    def stop(self) -> None:
        for svc in reversed(self.members):
            svc.stop()
        with contextlib.suppress(OSError):
            (Path(self.plan.run_dir) / "cluster.json").unlink()


@contextlib.contextmanager
def stop_signals() -> Iterator[Callable[[], bool]]:
    """SIGINT/SIGTERM set a flag (the launcher then stops its services in order)."""
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: bool(received)
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def banner(plan: Plan, env: Mapping[str, str]) -> str:
    nodes = ", ".join(f"127.0.0.1:{p}" for p in plan.node_ports)
    lines = [
        f"Board:     {plan.url}/   API: {plan.url}/api/   admin: {plan.url}/admin/",
        f"Log in:    {DEMO_LOGINS}",
        f"Realtime:  {plan.ws_url}/<sprint>/ -> nginx (least_conn) -> nodes {nodes}",
        f"Broker:    {plan.broker}   database: {plan.database_url}",
        f"Logs:      {plan.run_dir}/logs/   (state: {plan.run_dir}/cluster.json)",
        "Ctrl-C stops the cluster.",
    ]
    if env["REALTIME_SECRET"] == DEV_REALTIME_SECRET:
        lines.insert(0, "warning: REALTIME_SECRET is not set; using the DEV ONLY secret")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--port", type=int, default=int(env.get("CLUSTER_PORT") or 8000),
                   help="nginx's public port on 127.0.0.1; 0 picks a free one "
                        "(env CLUSTER_PORT; default 8000)")
    p.add_argument("--nodes", type=int, default=2, help="realtime nodes (default 2)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    p.add_argument("--run-dir", default=str(ROOT / "run" / "cluster"),
                   help="config, logs, SQLite database (default run/cluster)")
    p.add_argument("--redis-url", default=env.get("REDIS_URL") or DEFAULT_REDIS_URL,
                   help=f"the nodes' broker (env REDIS_URL; default {DEFAULT_REDIS_URL})")
    p.add_argument("--broker", default=None,
                   help="the nodes' --broker (default: the Redis URL). memory:// leaves the "
                        "nodes unconnected: clients on different nodes do not see each other")
    p.add_argument("--render-only", action="store_true",
                   help="write the nginx config into the run dir, check it with nginx -t, "
                        "print its path and exit")
    args = p.parse_args(argv)
    if args.nodes < 1:
        p.error("--nodes must be at least 1")
    return args


def run(args: argparse.Namespace) -> int:
    environ = dict(os.environ)
    plan = make_plan(args, environ)
    run_dir = Path(plan.run_dir)
    nginx = find_nginx()
    conf = write_nginx_config(
        run_dir, listen=f"127.0.0.1:{plan.port}", events_listen=f"127.0.0.1:{plan.events_port}",
        django=f"127.0.0.1:{plan.django_port}",
        nodes=[f"127.0.0.1:{p}" for p in plan.node_ports])
    nginx_test(nginx, conf)
    if args.render_only:
        print(conf)
        return 0
    if plan.broker.startswith(("redis://", "rediss://")):
        check_redis(plan.broker)
    env = service_env(plan, environ)
    log_dir = run_dir / "logs"
    print(f"Preparing the database ({plan.database_url}) ...", flush=True)
    prepare_django(env, log_dir)
    cluster = Cluster(plan, services(plan, nginx, conf, args.workers), env)
    with stop_signals() as stopping:
        try:
            cluster.start()
            print(banner(plan, env), flush=True)
            died = cluster.watch(stopping)
            print("stopping the cluster ..." if died is None else
                  f"{died} exited (see {log_dir / died}.log): stopping the cluster ...",
                  flush=True)
        finally:
            cluster.stop()
    return 0 if died is None else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
