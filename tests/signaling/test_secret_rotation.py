"""Rotating REALTIME_SECRET: the previous secret works while REALTIME_SECRET_PREVIOUS is set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import RealtimeServer, events_body, make_token, sign
from tests.signaling.conftest import Connect, event, post_events

NEW = "rotation-test-new-secret-not-for-production"
OLD = "rotation-test-old-secret-not-for-production"
OTHER = "rotation-test-unknown-secret-not-for-production"


@pytest.fixture(scope="module")
def server() -> Iterator[RealtimeServer]:
    with RealtimeServer(secret=NEW, env={"REALTIME_SECRET_PREVIOUS": OLD}) as srv:
        yield srv


@pytest.mark.parametrize("secret", [NEW, OLD])
async def test_tickets_signed_with_either_secret_connect(connect: Connect, sprint: int,
                                                         secret: str) -> None:
    client = await connect(sprint, token=make_token(sprint=sprint, secret=secret))
    assert client.welcome["sprint"] == sprint


async def test_a_ticket_signed_with_another_secret_is_refused(connect: Connect,
                                                              sprint: int) -> None:
    client = await connect(sprint, token=make_token(sprint=sprint, secret=OTHER),
                           welcome=False)
    assert await client.closed() == 4001


@pytest.mark.parametrize(("secret", "status"), [(NEW, 200), (OLD, 200), (OTHER, 401)])
def test_events_signed_with_the_previous_secret_are_accepted(
        server: RealtimeServer, sprints: Iterator[int], secret: str, status: int) -> None:
    body = events_body([event(next(sprints), 1)])
    code, answer = post_events(server, body=body, headers=sign(body, secret=secret))
    assert code == status, answer


def test_without_a_previous_secret_the_old_one_is_refused(sprints: Iterator[int]) -> None:
    with RealtimeServer(secret=NEW) as plain:
        body = events_body([event(next(sprints), 1)])
        code, answer = post_events(plain, body=body, headers=sign(body, secret=OLD))
        assert (code, answer["error"]) == (401, "bad_signature")
