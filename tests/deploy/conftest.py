"""Fixtures for the deployment suites: docker/cluster.py loaded as a module, nginx found."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.servers import ROOT

DOCKER = ROOT / "docker"


def load_cluster() -> ModuleType:
    """``docker/cluster.py`` (a script, not a package: docker/ holds no Python package)."""
    name = "watercooler_cluster"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DOCKER / "cluster.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def cluster_module() -> ModuleType:
    return load_cluster()


@pytest.fixture(scope="session")
def nginx(cluster_module: ModuleType) -> str:
    """Debian's nginx; missing is a failure (`make test` installs it), never a skip."""
    try:
        return str(cluster_module.find_nginx())
    except cluster_module.ClusterError as exc:
        pytest.fail(str(exc))


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))
