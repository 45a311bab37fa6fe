"""`make cluster`'s shape, for real: docker/cluster.py on free ports, a client through nginx.

Redis (the machine's, a database of this suite's own) and Debian's nginx are required: a
missing one fails these tests, it never skips them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from peer.sse import stream_url
from tests.deploy.conftest import Running, claimed_redis_db, launch_cluster
from tests.sse_client import open_stream

pytestmark = pytest.mark.redis

#: A Redis database of this run's own, flushed before and after: the cluster's SQLite
#: database is new each run, so sprint 1's event history from a previous run must go.
REDIS_BASE = os.environ.get("CLUSTER_TEST_REDIS_URL", "redis://127.0.0.1:6379")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, nginx: str) -> Iterator[Running]:
    with claimed_redis_db(REDIS_BASE) as url, \
            launch_cluster(tmp_path_factory.mktemp("cluster"), url) as running:
        yield running


@pytest.fixture
async def http(cluster: Running) -> AsyncIterator[httpx.AsyncClient]:
    """An API client logged in as the demo user, through nginx."""
    async with httpx.AsyncClient(base_url=cluster.url, timeout=10) as client:
        resp = await client.post("/api/token/", json={"username": "demo", "password": "demo"})
        assert resp.status_code == 200, resp.text
        client.headers["Authorization"] = f"Token {resp.json()['token']}"
        yield client


async def demo_sprint(http: httpx.AsyncClient) -> dict[str, Any]:
    resp = await http.get("/api/sprints/")
    assert resp.status_code == 200, resp.text
    (sprint,) = resp.json()["results"]
    return dict(sprint)


async def open_socket(http: httpx.AsyncClient, sprint: int, origin: str
                      ) -> tuple[ClientConnection, dict[str, Any]]:
    """A ticket over REST, then the websocket it names, as the browser client does."""
    resp = await http.post(f"/api/sprints/{sprint}/realtime/")
    assert resp.status_code == 200, resp.text
    ticket = resp.json()
    ws = await websockets.connect(f"{ticket['url']}?token={ticket['token']}&protocol=2",
                                  origin=origin, close_timeout=1)
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert welcome["type"] == "welcome", welcome
    return ws, welcome


async def next_of_type(ws: ClientConnection, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind:
                return dict(frame)


def test_the_launcher_prints_the_url_and_the_demo_login(cluster: Running) -> None:
    printed = cluster.output.read_text()
    assert f"Board:     {cluster.url}/" in printed
    assert "demo / demo" in printed
    assert cluster.state["ws_url"] == f"{cluster.url.replace('http', 'ws', 1)}/ws"
    assert len(cluster.state["node_ports"]) == 2


async def test_nginx_routes_the_board_static_files_and_hides_the_nodes(
        cluster: Running) -> None:
    async with httpx.AsyncClient(base_url=cluster.url, timeout=10) as client:
        board = await client.get("/")
        assert board.status_code == 200 and "text/html" in board.headers["content-type"]
        assert (await client.get("/static/admin/css/base.css")).status_code == 200
        assert (await client.get("/admin/login/")).status_code == 200
        assert (await client.get("/api/sprints/")).status_code == 401
        for hidden in ("/ws/healthz", "/ws/metrics", "/ws/events/", "/metrics"):
            assert (await client.get(hidden)).status_code == 404, hidden


async def test_nginx_limits_password_posts_to_the_session_logins(cluster: Running) -> None:
    """Django's admin and browsable-API logins are not DRF views: nginx limits them."""
    async with httpx.AsyncClient(base_url=cluster.url, timeout=10) as client:
        codes = [(await client.post("/admin/login/", data={"username": "demo",
                                                           "password": f"guess-{n}"})).status_code
                 for n in range(12)]
        assert 429 in codes and codes[0] != 429
        assert (await client.post("/api/auth/login/", data={})).status_code == 429  # same zone
        assert (await client.get("/admin/login/")).status_code == 200  # forms still load


async def test_ticket_through_nginx_names_the_nginx_websocket_url(
        cluster: Running, http: httpx.AsyncClient) -> None:
    sprint = await demo_sprint(http)
    resp = await http.post(f"/api/sprints/{sprint['id']}/realtime/")
    assert resp.json()["url"] == f"{cluster.state['ws_url']}/{sprint['id']}/"


async def test_a_bad_token_is_refused_through_nginx(cluster: Running) -> None:
    ws = await websockets.connect(f"{cluster.state['ws_url']}/1/?token=nope&protocol=2",
                                  close_timeout=1)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


async def test_two_clients_on_two_nodes_both_get_a_rest_change(
        cluster: Running, http: httpx.AsyncClient) -> None:
    sprint = await demo_sprint(http)
    ana, ana_welcome = await open_socket(http, sprint["id"], origin=cluster.url)
    ben, ben_welcome = await open_socket(http, sprint["id"], origin=cluster.url)
    try:
        # least_conn: the second websocket goes to the node without one.
        assert sorted(cluster.node_connections()) == [1, 1]
        # Presence across nodes, through Redis.
        assert [p["peer"] for p in ben_welcome["peers"]] == sorted(
            [ana_welcome["peer"], ben_welcome["peer"]])
        joined = await next_of_type(ana, "presence")
        assert [p["peer"] for p in joined["joined"]] == [ben_welcome["peer"]]

        tasks = (await http.get(f"/api/tasks/?sprint={sprint['id']}")).json()["results"]
        resp = await http.patch(f"/api/tasks/{tasks[0]['id']}/",
                                json={"name": "renamed through nginx"})
        assert resp.status_code == 200, resp.text
        got = [await next_of_type(ws, "event") for ws in (ana, ben)]
        assert got[0] == got[1]
        assert got[0]["id"] == tasks[0]["id"]
        assert got[0]["data"]["name"] == "renamed through nginx"
        assert got[0]["seq"] > (sprint["seq"] or 0)
    finally:
        for ws in (ana, ben):
            with contextlib.suppress(Exception):
                await ws.close()


async def test_sse_streams_through_nginx_on_both_nodes_get_a_rest_change_at_once(
        cluster: Running, http: httpx.AsyncClient) -> None:
    sprint = await demo_sprint(http)
    tickets = [(await http.post(f"/api/sprints/{sprint['id']}/realtime/")).json()
               for _ in range(2)]
    urls = [stream_url(t["url"], t["token"], sprint["seq"] or 0) for t in tickets]
    assert urls[0].startswith(f"{cluster.url}/ws/{sprint['id']}/stream?")
    async with contextlib.AsyncExitStack() as stack:
        streams = []
        for url in urls:
            base, _, query = url.partition("/stream?")
            sprint_id = int(base.rsplit("/", 1)[1])
            token = dict(p.split("=", 1) for p in query.split("&"))["token"]
            stream = await stack.enter_async_context(open_stream(
                base.rsplit("/", 1)[0], sprint_id, token, since=sprint["seq"] or 0,
                headers={"Origin": cluster.url}))
            assert stream.response.status_code == 200
            await stream.next_of("presence")
            streams.append(stream)
        # least_conn: one stream per node (the sse gauge of each node says 1)
        assert sorted(cluster.node_connections()) == [1, 1]
        tasks = (await http.get(f"/api/tasks/?sprint={sprint['id']}")).json()["results"]
        resp = await http.patch(f"/api/tasks/{tasks[0]['id']}/",
                                json={"name": "streamed through nginx"})
        assert resp.status_code == 200, resp.text
        got = [await stream.next_of("event") for stream in streams]  # unbuffered: now
    assert got[0] == got[1]
    assert got[0]["data"]["name"] == "streamed through nginx"


async def test_a_bad_ticket_on_the_stream_is_a_401_body_through_nginx(cluster: Running) -> None:
    async with httpx.AsyncClient() as client:
        resp = await client.get(f"{cluster.url}/ws/1/stream?token=nope")
    assert resp.status_code == 401
    assert resp.json()["error"] == "token_invalid"
