"""Schema-driven fuzzing of the live API (Schemathesis): no 5xx, every response as documented.

Schemathesis reads `/api/schema/` from a real Django live server and sends, as the demo
user, what the schema allows and what it does not: boundary values, NUL bytes, integers
past 64 bits, wrong types, every documented content type, undocumented methods, then
chains of calls that create, read, change and delete. Each response must be documented
(status code, content type, headers, body against its schema) and none may be a 5xx.
`make test` runs it once, on PostgreSQL, where NUL bytes and 64-bit overflows used to be
500s (it is the suite's longest test); `pytest -m fuzz tests/api` runs it on SQLite.

A failure prints Schemathesis' report: each failing request as a `curl` command and the
response it got. The run is deterministic (FUZZ_SEED, default below); FUZZ_SEED=<n>
explores other inputs, FUZZ_EXAMPLES=<n> more of them per operation.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from api.board.demo import demo_seed

pytestmark = pytest.mark.fuzz

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance")
SEED = os.environ.get("FUZZ_SEED", "20261201")
EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "6")  # per operation: make test stays under 15 min


@pytest.fixture
def demo_token(transactional_db: None) -> str:
    """The demo board (as `make run` seeds it) and the demo user's API token."""
    demo_seed()
    return Token.objects.create(user=User.objects.get(username="demo")).key


@pytest.fixture
def user_rate_off(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fuzzer sends more requests a minute than a user may. The login keeps its rate:
    # its 429 (with Retry-After) is part of the contract under test.
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "user": None, "anon": None}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


@pytest.mark.timeout(600)
def test_the_live_api_answers_as_its_schema_says(live_server: Any, demo_token: str,
                                                 user_rate_off: None, tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "schemathesis.cli", "--no-color", "run",
        f"{live_server.url}/api/schema/?format=json",
        "--header", f"Authorization: Token {demo_token}",
        "--checks", ",".join(CHECKS),
        "--phases", "coverage,fuzzing,stateful",
        "--max-examples", EXAMPLES, "--seed", SEED,
        # One worker: with several threads, Hypothesis' ast parsing trips CPython 3.11's
        # "AST constructor recursion depth mismatch" now and then (a runtime error).
        "--workers", "1",
        "--generation-database", "none",
        "--request-timeout", "30",
    ]
    # cwd: Schemathesis and Hypothesis leave their caches in the working directory.
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=540)
    if run.returncode != 0:
        # Its whole report: each failing request as a curl command, with the response.
        pytest.fail(f"Schemathesis exited {run.returncode}:\n{run.stdout[-40000:]}\n"
                    f"{run.stderr[-4000:]}", pytrace=False)
