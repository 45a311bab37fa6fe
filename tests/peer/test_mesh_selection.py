"""`peer.mesh.select_mesh`: at most `limit` links, the same choice at both ends of a pair."""

from __future__ import annotations

import itertools
import random

from peer.mesh import select_mesh


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
