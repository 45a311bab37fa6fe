"""docs/operations.md lists every environment variable and flag the deployment reads."""

from __future__ import annotations

import json
import re

from signaling.server import make_parser
from tests.deploy.conftest import DOCKER
from tests.servers import ROOT, RealtimeServer

DOC = (ROOT / "docs" / "operations.md").read_text()


def read_variables() -> dict[str, set[str]]:
    """Environment variables read, by the file that reads them."""
    found: dict[str, set[str]] = {}

    def scan(path: str, *patterns: str) -> None:
        text = (ROOT / path).read_text()
        found[path] = {m for p in patterns for m in re.findall(p, text)}

    scan("api/settings.py", r'env_(?:str|bool|list|float|count|rate)\(\s*"([A-Z_]+)"',
         r'os\.environ(?:\.get\(|\[)"([A-Z_]+)"')
    found["api/settings.py"].add("DATABASE_URL")  # read by dj_database_url.config()
    scan("signaling/server.py", r'env\.get\("([A-Z_]+)"')
    scan("docker/cluster.py", r'(?:environ|env)\.get\("([A-Z_]+)"')
    for path in DOCKER.glob("*.sh"):
        scan(str(path.relative_to(ROOT)), r"\$\{([A-Z_]+)")
    scan("docker/compose.yaml", r"\$\{([A-Z_]+)")
    return found


def test_every_environment_variable_is_documented() -> None:
    variables = read_variables()
    assert len(variables["api/settings.py"]) >= 15
    assert {"REALTIME_SECRET", "TURN_SECRET", "REALTIME_SECRET_PREVIOUS"} <= variables[
        "signaling/server.py"]
    missing = {f"{name} ({path})" for path, names in variables.items() for name in names
               if f"`{name}`" not in DOC}
    assert not missing, f"not in docs/operations.md: {sorted(missing)}"


def test_every_realtime_flag_is_documented() -> None:
    flags = {name.replace("_", "-") for name in make_parser()._options if name != "help"}
    missing = {f for f in flags if f"`--{f}`" not in DOC}
    assert not missing, f"not in docs/operations.md: {sorted(missing)}"


def test_the_healthz_body_shown_is_the_one_a_node_answers(server: RealtimeServer) -> None:
    shown = re.search(r"`GET /healthz`: 200 `(\{.*?\})`", DOC, re.S)
    assert shown is not None
    example = json.loads(shown.group(1).replace("\n  ", " "))
    status, body = server.healthz()
    assert status == 200
    assert list(body) == list(example)
    assert {k: type(v) for k, v in body.items()} == {k: type(v) for k, v in example.items()}
