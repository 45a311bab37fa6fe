"""TURN credentials in ``welcome.ice_servers`` (coturn's REST API scheme), on a real server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from signaling.turn import turn_credential
from tests.servers import ROOT, RealtimeServer, make_token
from tests.signaling.conftest import Connect

TURN_SECRET = "test-turn-secret-not-for-production"
TURN_URLS = ("turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349")
STUN = "stun:stun.example.org:3478"


@pytest.fixture(scope="module")
def server() -> Iterator[RealtimeServer]:
    """A server offering STUN plus TURN, the TURN secret from the environment."""
    args = [f"--ice-server={STUN}", *(f"--turn-url={u}" for u in TURN_URLS), "--turn-ttl=600"]
    with RealtimeServer(*args, env={"TURN_SECRET": TURN_SECRET}) as srv:
        yield srv


def expected_credential(username: str, secret: str = TURN_SECRET) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


async def test_welcome_offers_turn_with_a_credential_coturn_accepts(
        connect: Connect, sprint: int, server: RealtimeServer) -> None:
    token = make_token(user_id=42, username="ana", sprint=sprint, secret=server.secret)
    before = time.time()
    ana = await connect(sprint, token=token)
    stun, turn = ana.welcome["ice_servers"]
    assert stun == {"urls": [STUN]}
    assert list(turn) == ["urls", "username", "credential"]
    assert turn["urls"] == list(TURN_URLS)
    expiry, _, user = turn["username"].partition(":")
    assert user == "42"
    assert before + 600 - 5 <= int(expiry) <= time.time() + 600
    assert turn["credential"] == expected_credential(turn["username"])


async def test_each_user_gets_a_credential_of_its_own(connect: Connect, sprint: int,
                                                      server: RealtimeServer) -> None:
    ana = await connect(sprint, token=make_token(user_id=1, sprint=sprint,
                                                 secret=server.secret))
    ben = await connect(sprint, token=make_token(user_id=2, username="ben", sprint=sprint,
                                                 secret=server.secret))
    a, b = ana.welcome["ice_servers"][1], ben.welcome["ice_servers"][1]
    assert a["username"].endswith(":1") and b["username"].endswith(":2")
    assert a["credential"] != b["credential"]


async def test_the_turn_secret_never_reaches_a_client(connect: Connect, sprint: int) -> None:
    ana = await connect(sprint)
    assert TURN_SECRET not in json.dumps(ana.welcome)


async def test_without_a_turn_secret_no_credentials_are_offered(connect: Connect,
                                                                sprint: int) -> None:
    with RealtimeServer(f"--ice-server={STUN}") as plain:
        ana = await connect(sprint, server=plain)
        assert ana.welcome["ice_servers"] == [{"urls": [STUN]}]
        assert "credential" not in json.dumps(ana.welcome)


@pytest.mark.parametrize("args", [
    ["--turn-url=turn:turn.example.org:3478"],
    ["--turn-url=stun:stun.example.org:3478", "--turn-secret=x"],
    ["--turn-url=turn:turn.example.org:3478", "--turn-secret=x", "--turn-ttl=0"],
])
def test_bad_turn_options_stop_the_server_at_start(args: list[str]) -> None:
    env = {"PATH": "/usr/bin:/bin"}  # no TURN_SECRET from the caller's environment
    proc = subprocess.run([sys.executable, str(ROOT / "watercooler.py"), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.startswith("watercooler: ")
    assert "turn" in proc.stderr.lower()


def test_credential_is_the_coturn_rest_api_scheme() -> None:
    cred = turn_credential("s3cret", 7, ttl=3600, now=1_700_000_000)
    assert cred.username == "1700003600:7"
    assert cred.expires == 1_700_003_600
    assert cred.credential == expected_credential("1700003600:7", "s3cret")
    assert turn_credential("s3cret", None, ttl=1, now=0).username == "1:anonymous"
