"""Order keys: always between their neighbours, plain ASCII, and sorted alike by Python,
JavaScript and the database (PostgreSQL's "C" collation, SQLite's bytes)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess

import pytest

from api.board import ranks
from api.board.models import Task

DIGITS = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def test_random_inserts_keep_a_strict_order() -> None:
    rng = random.Random(11)
    column: list[str] = []
    for _ in range(500):
        at = rng.randint(0, len(column))
        before = column[at - 1] if at else None
        after = column[at] if at < len(column) else None
        key = ranks.rank_between(before, after)
        assert set(key) <= DIGITS
        assert (before is None or before < key) and (after is None or key < after)
        column.insert(at, key)
    assert column == sorted(column) and len(set(column)) == len(column)


def test_inserting_at_one_place_grows_the_key_until_a_rebalance_is_due() -> None:
    top, below = ranks.spread(2)
    lengths = []
    for _ in range(400):
        below = ranks.rank_between(top, below)
        lengths.append(len(below))
    assert lengths == sorted(lengths)
    assert ranks.needs_rebalance(below)
    # About one character per six inserts: a column takes hundreds before a rebalance.
    first_due = next(i for i, n in enumerate(lengths) if n > ranks.REBALANCE_LENGTH)
    assert first_due > 200


def test_spread_and_append_give_short_increasing_keys() -> None:
    keys = ranks.spread(100)
    assert keys == sorted(keys) and len(set(keys)) == 100 and max(map(len, keys)) <= 3
    more = ranks.ranks_after(keys[-1], 5)
    assert keys[-1] < more[0] and more == sorted(more)


def test_a_broken_neighbour_key_is_a_rank_error() -> None:
    with pytest.raises(ranks.RankError):
        ranks.rank_between("", "a0")
    with pytest.raises(ranks.RankError):
        ranks.rank_between("a1", "a0")


MIXED = ["a0", "aA", "aa", "Zz", "a0V", "a0v", "b00", "A" + "0" * 25 + "1", "aZ", "az", "a9"]


@pytest.mark.django_db
def test_database_sorts_ranks_as_python_and_javascript() -> None:
    """Mixed case must sort byte-wise ("Z" < "a"), which a locale collation would not."""
    Task.objects.bulk_create(Task(name=key, rank=key) for key in MIXED)  # the backlog
    from_db = list(Task.objects.order_by("rank").values_list("rank", flat=True))
    assert from_db == sorted(MIXED)
    between = Task.objects.filter(rank__gt="Zz", rank__lt="aa").order_by("rank")
    assert list(between.values_list("rank", flat=True)) == sorted(
        k for k in MIXED if "Zz" < k < "aa")
    node = shutil.which("node")
    assert node, "node is needed (make test-js runs it too)"
    script = "const k = JSON.parse(process.argv[1]); k.sort(); console.log(JSON.stringify(k));"
    out = subprocess.run([node, "-e", script, json.dumps(MIXED)], capture_output=True,
                         text=True, check=True, timeout=30)
    assert json.loads(out.stdout) == from_db


@pytest.mark.django_db
def test_rank_column_compares_bytewise_on_postgres() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite compares bytes always; the collation is PostgreSQL's question")
    with connection.cursor() as cursor:
        cursor.execute("SELECT collation_name FROM information_schema.columns "
                       "WHERE table_name = 'board_task' AND column_name = 'rank'")
        assert cursor.fetchone() == ("C",)
