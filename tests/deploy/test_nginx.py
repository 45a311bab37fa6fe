"""The nginx configuration, rendered for `make cluster` and for compose, passes `nginx -t`,
and its websocket limits work in front of a real node."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from tests.deploy.conftest import DOCKER
from tests.servers import ROOT, RealtimeServer, free_port, make_token


def nginx_t(nginx: str, cluster_module: ModuleType, conf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cluster_module.nginx_command(nginx, conf, "-t"), capture_output=True,
                          text=True, timeout=30)


def test_cluster_config_passes_nginx_t(nginx: str, cluster_module: ModuleType,
                                       tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(DOCKER / "cluster.py"), "--render-only",
                           "--port=0", f"--run-dir={run_dir}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    conf = Path(proc.stdout.strip())
    assert conf == run_dir / "nginx.conf"
    checked = nginx_t(nginx, cluster_module, conf)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    site = "\n".join(line for line in (run_dir / "watercooler.conf").read_text().splitlines()
                     if not line.lstrip().startswith("#"))
    assert "${" not in site
    assert site.count("server 127.0.0.1:") == 3  # Django + two nodes


def test_compose_rendering_passes_nginx_t(nginx: str, cluster_module: ModuleType,
                                          tmp_path: Path) -> None:
    """The values compose gives the nginx image's envsubst, with the service names mapped
    to loopback (there is no Docker DNS here for nginx -t to resolve them)."""
    env = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]["nginx"][
        "environment"]
    # compose fills ${VAR:-default} from its own environment first: here, the defaults
    values = {k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()
              if k.startswith("WATERCOOLER_")}
    for host in ("api", "realtime1", "realtime2"):
        for key in ("WATERCOOLER_DJANGO", "WATERCOOLER_REALTIME_SERVERS"):
            values[key] = values[key].replace(f"{host}:", "127.0.0.1:")
    values["WATERCOOLER_LISTEN"] = f"127.0.0.1:{values['WATERCOOLER_LISTEN']}"
    values["WATERCOOLER_EVENTS_LISTEN"] = f"127.0.0.1:{values['WATERCOOLER_EVENTS_LISTEN']}"
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx-temp").mkdir()
    site = tmp_path / "default.conf"
    site.write_text(cluster_module.render_template(
        cluster_module.SITE_TEMPLATE.read_text(), values))
    conf = tmp_path / "nginx.conf"
    conf.write_text(cluster_module.render_template(cluster_module.MAIN_TEMPLATE.read_text(), {
        "WATERCOOLER_RUN_DIR": str(tmp_path), "WATERCOOLER_SITE_CONF": str(site)}))
    checked = nginx_t(nginx, cluster_module, conf)
    assert checked.returncode == 0, checked.stderr


def test_rendering_fills_placeholders_only(cluster_module: ModuleType) -> None:
    text = "listen ${WATERCOOLER_LISTEN}; proxy_set_header Host $http_host; rewrite (.*) $1;"
    out = cluster_module.render_template(text, {"WATERCOOLER_LISTEN": "8000"})
    assert out == "listen 8000; proxy_set_header Host $http_host; rewrite (.*) $1;"
    with pytest.raises(cluster_module.ClusterError, match="WATERCOOLER_LISTEN"):
        cluster_module.render_template(text, {})


@pytest.fixture
def proxied_node(nginx: str, cluster_module: ModuleType, tmp_path: Path
                 ) -> Iterator[tuple[RealtimeServer, int]]:
    """A realtime node told of one proxy, behind nginx rendered from the compose template
    with 2 websockets per address; yields the node and nginx's port."""
    port = free_port()
    with RealtimeServer("--num-proxies=1", "--max-connections-per-address=10") as node:
        (tmp_path / "logs").mkdir()
        (tmp_path / "nginx-temp").mkdir()
        site = tmp_path / "site.conf"
        site.write_text(cluster_module.render_template(cluster_module.SITE_TEMPLATE.read_text(), {
            "WATERCOOLER_LISTEN": f"127.0.0.1:{port}",
            "WATERCOOLER_EVENTS_LISTEN": f"127.0.0.1:{free_port()}",
            "WATERCOOLER_DJANGO": f"127.0.0.1:{free_port()}",
            "WATERCOOLER_REALTIME_SERVERS": f"server 127.0.0.1:{node.port};",
            "WATERCOOLER_WS_PER_ADDRESS": "2"}))
        conf = tmp_path / "nginx.conf"
        conf.write_text(cluster_module.render_template(cluster_module.MAIN_TEMPLATE.read_text(), {
            "WATERCOOLER_RUN_DIR": str(tmp_path), "WATERCOOLER_SITE_CONF": str(site)}))
        proc = subprocess.Popen(cluster_module.nginx_command(nginx, conf),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                time.sleep(0.05)
            yield node, port
        finally:
            proc.terminate()
            proc.wait(10)


async def test_behind_nginx_websockets_per_address_are_capped_and_the_node_sees_the_client(
        proxied_node: tuple[RealtimeServer, int]) -> None:
    node, port = proxied_node
    sprint = 7

    async def through_nginx(user: int) -> ClientConnection:
        token = make_token(user_id=user, sprint=sprint, secret=node.secret)
        return await ws_connect(f"ws://127.0.0.1:{port}/ws/{sprint}/?token={token}&protocol=2",
                                local_addr=("127.0.0.2", 0), open_timeout=5)

    held = [await through_nginx(1), await through_nginx(2)]
    try:
        for ws in held:
            assert '"type":"welcome"' in str(await asyncio.wait_for(ws.recv(), 5))
        with pytest.raises(InvalidStatus) as refused:
            await through_nginx(3)
        assert refused.value.response.status_code == 429
        # nginx's X-Forwarded-For, trusted for one proxy: the client, not nginx
        assert "(127.0.0.2)" in node.log_path.read_text()
    finally:
        for ws in held:
            await ws.close()
