"""`peer.mesh.select_mesh`: at most `limit` links, the same choice at both ends of a pair."""

from __future__ import annotations

import itertools
import json
import random
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peer.mesh import select_mesh
from signaling.protocol import VISIBLE_PEERS


def test_small_sprint_is_a_full_mesh() -> None:
    assert select_mesh("b", ["a", "c"], limit=8) == {"a", "c"}


def test_first_peers_in_id_order_form_the_mesh() -> None:
    ids = ["p1", "p2", "p3", "p4"]
    chosen = {p: select_mesh(p, [q for q in ids if q != p], limit=2) for p in ids}
    assert chosen == {"p1": {"p2", "p3"}, "p2": {"p1", "p3"}, "p3": {"p1", "p2"},
                      "p4": frozenset()}


def test_limit_is_respected_and_choice_is_symmetric() -> None:
    rng = random.Random(7)
    for _ in range(50):
        ids = [f"{rng.getrandbits(32):08x}" for _ in range(rng.randint(1, 20))]
        limit = rng.randint(0, 9)
        chosen = {p: select_mesh(p, ids, limit) for p in ids}
        for p in ids:
            assert len(chosen[p]) <= limit and p not in chosen[p]
        for a, b in itertools.permutations(ids, 2):
            assert (b in chosen[a]) == (a in chosen[b])


def test_zero_limit_means_relay_only() -> None:
    assert select_mesh("a", ["b"], limit=0) == frozenset()


# --- protocol version 2: each end sees only the sprint's first 50 peers -----------------------

CASES = json.loads((Path(__file__).resolve().parents[2] / "docs/protocol/mesh_cases.json")
                   .read_text())


def _visible(sprint: list[str]) -> list[str]:
    """What presence shows every peer of ``sprint``: its first 50 peer ids by id."""
    return sorted(sprint)[:VISIBLE_PEERS]


def _pairs(sprint: list[str], limit: int) -> set[tuple[str, str]]:
    """The pairs each end chooses from what it sees; asserts both ends choose each other."""
    seen = _visible(sprint)
    chosen = {p: select_mesh(p, [q for q in seen if q != p], limit) for p in sprint}
    for a in sprint:
        for b in chosen[a]:
            assert a in chosen[b], (a, b)
    return {(a, b) if a < b else (b, a) for a in sprint for b in chosen[a]}


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: f"{len(c['peers'])}-{c['limit']}")
def test_the_shared_cases_give_the_same_pairs(case: dict[str, Any]) -> None:
    assert CASES["visible_peers"] == VISIBLE_PEERS
    assert _pairs(case["peers"], case["limit"]) == {tuple(p) for p in case["pairs"]}


PEER_IDS = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=16)


@given(sprint=st.lists(PEER_IDS, min_size=1, max_size=120, unique=True),
       limit=st.integers(min_value=0, max_value=VISIBLE_PEERS - 1))
def test_both_ends_choose_the_same_pairs_from_the_visible_peers(sprint: list[str],
                                                                limit: int) -> None:
    """Seeing only the first 50 changes nothing: the pairs are those of the whole sprint."""
    everyone = {p: select_mesh(p, sprint, limit) for p in sprint}
    assert _pairs(sprint, limit) == {(a, b) if a < b else (b, a)
                                     for a in sprint for b in everyone[a]}
