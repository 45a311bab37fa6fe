"""docker/compose.yaml without a Docker engine: it parses, and everything it runs is in the repo."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from signaling.server import make_parser
from tests.deploy.conftest import DOCKER, rel
from tests.servers import ROOT

COMPOSE = DOCKER / "compose.yaml"
SERVICES = {"postgres", "redis", "api", "delivery", "realtime1", "realtime2", "nginx", "coturn"}
REQUIRED_SECRETS = {"SECRET_KEY", "REALTIME_SECRET", "TURN_SECRET", "POSTGRES_PASSWORD"}


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def built_services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose()["services"].items() if "build" in svc}


def dockerfile(svc: dict[str, Any]) -> Path:
    context = (DOCKER / svc["build"]["context"]).resolve()
    return context / svc["build"]["dockerfile"]


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def exec_form(args: str) -> list[str]:
    parsed = yaml.safe_load(args)  # a JSON array is YAML too
    assert isinstance(parsed, list), f"use the exec form: {args}"
    return [str(a) for a in parsed]


def _has_compose_plugin() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "compose", "version"], capture_output=True).returncode == 0


def test_compose_file_parses_with_the_expected_services() -> None:
    """``docker compose config`` where the client has the compose plugin, else PyYAML."""
    assert set(compose()["services"]) == SERVICES
    if _has_compose_plugin():
        env = {**os.environ, **{name: "x" * 32 for name in REQUIRED_SECRETS}}
        proc = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
                              env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr


def test_secrets_have_no_default() -> None:
    """Every secret is a required variable: compose refuses to start without it."""
    text = COMPOSE.read_text()
    for name in REQUIRED_SECRETS:
        uses = re.findall(r"\$\{" + name + r"(:[^}]*)?\}", text)
        assert uses, name
        assert all(u.startswith(":?") for u in uses), (name, uses)


def test_every_build_context_and_dockerfile_exists() -> None:
    assert set(built_services()) == {"api", "delivery", "realtime1", "realtime2"}
    for name, svc in built_services().items():
        path = dockerfile(svc)
        assert path.is_file(), f"{name}: {path}"
        assert (DOCKER / svc["build"]["context"]).resolve() == ROOT, name
        assert dockerfile_instructions(path)[0] == ("FROM", "python:3.11-slim")


def test_everything_the_dockerfiles_copy_exists() -> None:
    for path in {dockerfile(svc) for svc in built_services().values()}:
        for word, args in dockerfile_instructions(path):
            if word == "COPY":
                *sources, _dest = shlex.split(args)
                for source in sources:
                    assert (ROOT / source).exists(), f"{rel(path)}: COPY {source}"
                    ignore = path.with_name(path.name + ".dockerignore").read_text()
                    assert f"!{source}" in ignore, f"{source} not in the build context"


def _installed_scripts(path: Path) -> dict[str, Path]:
    """What a Dockerfile installs under /usr/local/bin, mapped to the repo file."""
    out = {}
    for word, args in dockerfile_instructions(path):
        if word == "COPY":
            source, dest = shlex.split(args)[-2:]
            if dest.startswith("/usr/local/bin/"):
                out[dest.rsplit("/", 1)[1]] = ROOT / source
    return out


def test_every_command_and_entrypoint_exists() -> None:
    for name, svc in built_services().items():
        path = dockerfile(svc)
        scripts = _installed_scripts(path)
        instructions = dict(dockerfile_instructions(path))
        entrypoint = svc.get("entrypoint") or exec_form(instructions["ENTRYPOINT"])
        command = svc.get("command") or exec_form(instructions.get("CMD", "[]"))
        assert entrypoint[0] in scripts, f"{name}: entrypoint {entrypoint[0]} not installed"
        script = scripts[entrypoint[0]]
        assert os.access(script, os.X_OK), f"{rel(script)} is not executable"
        assert subprocess.run(["sh", "-n", str(script)]).returncode == 0, rel(script)
        argv = command or []
        if argv[:2] == ["python", "manage.py"]:
            commands = list(ROOT.glob(f"api/*/management/commands/{argv[2]}.py"))
            assert commands, f"{name}: manage.py {argv[2]} does not exist"
        elif argv and argv[0] == "gunicorn":
            module = argv[1].partition(":")[0]
            assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), f"{name}: {module}"
        elif argv:
            raise AssertionError(f"{name}: unchecked command {argv}")


def test_the_realtime_entrypoint_passes_only_flags_the_server_knows() -> None:
    script = (DOCKER / "realtime-entrypoint.sh").read_text()
    assert "exec python watercooler.py" in script
    known = {name.replace("_", "-") for name in make_parser()._options}
    flags = set(re.findall(r"--([a-z][a-z-]*)=", script))
    assert flags, script
    assert flags <= known, flags - known


def test_host_files_mounted_into_containers_exist() -> None:
    for name, svc in compose()["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name}: {source}"


def test_nginx_gets_a_value_for_every_template_placeholder() -> None:
    nginx = compose()["services"]["nginx"]
    template = nginx["volumes"][0].split(":")[0]
    placeholders = set(re.findall(r"\$\{(\w+)\}", (DOCKER / template).read_text()))
    given = {k for k in nginx["environment"] if k.startswith("WATERCOOLER_")}
    assert placeholders == given
    only = re.compile(nginx["environment"]["NGINX_ENVSUBST_FILTER"])
    assert all(only.search(p) for p in placeholders)
    assert not only.search("host") and not only.search("http_upgrade")  # nginx's own $vars


def test_the_api_image_copies_every_module_api_imports() -> None:
    """api/ may import a module of another package (signaling.backoff): the image needs it."""
    copied = [source for word, args in dockerfile_instructions(DOCKER / "api.Dockerfile")
              if word == "COPY" for source in shlex.split(args)[:-1]]
    ours = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"api"}
    for path in (ROOT / "api").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                    and node.module.split(".")[0] in ours):
                needed = [f"{node.module.split('.')[0]}/__init__.py",
                          node.module.replace(".", "/") + ".py"]
                for file in needed:
                    assert any(file == c or (c.endswith("/") and file.startswith(c))
                               for c in copied), f"{rel(path)} imports {node.module}: COPY {file}"


def _third_party_imports(package: Path) -> set[str]:
    names: set[str] = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != package.name}


def _normalize(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()  # PEP 503


def test_the_realtime_image_installs_what_signaling_imports() -> None:
    """The realtime image installs a subset of requirements.txt; it must cover signaling/."""
    text = (DOCKER / "realtime.Dockerfile").read_text()
    pattern = re.search(r"grep -E '([^']+)' requirements.txt", text)
    assert pattern, "the realtime image picks its packages from requirements.txt"
    pinned = re.compile(pattern.group(1), re.MULTILINE)
    requirements = (ROOT / "requirements.txt").read_text()
    installed = {_normalize(line.split("==")[0]) for line in requirements.splitlines()
                 if pinned.match(line)}
    distributions = importlib.metadata.packages_distributions()
    for module in _third_party_imports(ROOT / "signaling"):
        dists = {_normalize(d) for d in distributions.get(module, [])}
        assert dists & installed, f"signaling imports {module} ({dists}); image has {installed}"
