"""What every board change shares: the transaction, the version check, "left out"."""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from django.db import models, transaction

from api.board.models import Sprint, Task

T = TypeVar("T")
Actor = Any  # a user, or None for the system
ExpectedVersion = int | Collection[int] | None
TASK_FIELDS = frozenset({"name", "description", "sprint", "status", "assigned", "started",
                         "due", "completed"})
SPRINT_FIELDS = frozenset({"name", "description", "end"})


class Keep(enum.Enum):
    """An argument left out: the value stays as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP


class VersionConflict(Exception):
    """The object is not at the version the write expected; `current` is its state."""

    def __init__(self, current: Task | Sprint, expected: ExpectedVersion) -> None:
        self.current = current
        noun = "task" if isinstance(current, Task) else "sprint"
        versions = sorted({expected} if isinstance(expected, int) else set(expected or ()))
        if len(versions) == 1:
            message = f"The {noun} changed since version {versions[0]} (now {current.version})."
        else:
            message = (f"The {noun} is at version {current.version}, "
                       f"not {' or '.join(map(str, versions))}.")
        super().__init__(message)


class Moved(Exception):
    """The task changed column between reading it and locking it: start again."""


def atomic(write: Callable[[], T]) -> T:
    """Run `write` in a transaction; again (twice at most) if it raised `Moved`."""
    for _ in range(2):
        try:
            with transaction.atomic():
                return write()
        except Moved:
            continue
    with transaction.atomic():
        return write()


def check_version(obj: Task | Sprint, expected: ExpectedVersion) -> None:
    if expected is None:
        return
    allowed = {expected} if isinstance(expected, int) else set(expected)
    if obj.version not in allowed:
        raise VersionConflict(obj, expected)


def pk_of(value: Any) -> Any:
    """The primary key of a model instance (a sprint, task or user); anything else as is."""
    return value.pk if isinstance(value, models.Model) else value


def required_pk(value: Task | Sprint | int) -> int:
    pk = pk_of(value)
    if pk is None:
        raise ValueError("an object that is saved (with a primary key) is needed")
    return int(pk)
