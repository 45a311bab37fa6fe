"""Every bound on what a client may send the API, in one place (docs/api.md lists them).

Serializers apply the text limits through their fields (so the OpenAPI schema shows
`maxLength`); `api.parsers` bounds request bodies; `api.middleware` bounds URLs and query
strings. The body size itself is Django's DATA_UPLOAD_MAX_MEMORY_SIZE (settings:
API_MAX_BODY_BYTES).
"""

from __future__ import annotations

#: Sprint and task names (the database columns' own length).
NAME_MAX_LENGTH = 100
#: Sprint and task descriptions, in characters. An event carries the whole task, and the
#: realtime server refuses events over its body limit: a description may never come near it.
DESCRIPTION_MAX_LENGTH = 10_000
#: Usernames (Django's own column length): `assigned`, the login's `username`.
USERNAME_MAX_LENGTH = 150
#: Passwords offered to `POST /api/token/`; longer ones are refused before any hashing.
PASSWORD_MAX_LENGTH = 4096
#: Any one query parameter's value (`search`, `assigned`, `ordering`, dates, ids...).
QUERY_VALUE_MAX_LENGTH = 200
#: Nesting of arrays and objects in a JSON body. The API's bodies are flat objects; the
#: bound is checked before parsing so that a deep body cannot exhaust the parser's stack.
JSON_MAX_DEPTH = 32
