"""The nginx configuration, rendered for `make cluster` and for compose, passes `nginx -t`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.deploy.conftest import DOCKER
from tests.servers import ROOT


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
    values = {k: str(v) for k, v in env.items() if k.startswith("WATERCOOLER_")}
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
