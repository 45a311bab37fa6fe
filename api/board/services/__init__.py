"""Every change to tasks and sprints: the one place the board's rules are applied.

Views, the admin, `seed_demo` and management commands call these functions; nothing else
writes board rows. Each is one transaction that locks what it reads to decide (see
`api/board/columns.py` for the lock order), applies the rules (`api/board/rules.py`),
keeps `version` and `rank`, and records the outbox events in the same transaction.

* `expected_version`: None writes whatever the current version (last write wins);
  otherwise the current version must be it (or one of them), else `VersionConflict` and
  nothing changes.
* `actor`: the user making the change, None for the system: every event the change
  records names them (`actor` in docs/protocol.md §3).
* Bad input raises `django.core.exceptions.ValidationError` with a dict of field errors.
* A write that changes nothing keeps the version and records no event.
"""

from api.board.services.common import (
    KEEP,
    SPRINT_FIELDS,
    TASK_FIELDS,
    Actor,
    ExpectedVersion,
    Keep,
    VersionConflict,
)
from api.board.services.sprints import sprint_create, sprint_delete, sprint_update
from api.board.services.tasks import task_create, task_delete, task_move, task_update

__all__ = [
    "KEEP", "SPRINT_FIELDS", "TASK_FIELDS", "Actor", "ExpectedVersion", "Keep", "VersionConflict",
    "sprint_create", "sprint_delete", "sprint_update",
    "task_create", "task_delete", "task_move", "task_update",
]
