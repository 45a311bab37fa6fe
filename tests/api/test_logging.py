"""`LOG_FORMAT`: the API's logs as text (default) or one JSON object per line."""

from __future__ import annotations

import json

import pytest

from tests.servers import manage

EMIT = ("import logging; "
        "logging.getLogger('api.realtime').warning('delivery failed for %s', 'sprint 3', "
        "extra={'sprint': 3})")


@pytest.mark.parametrize("value", ["json", "JSON"])
def test_json_log_lines_carry_level_logger_message_and_extra_fields(value: str) -> None:
    proc = manage("shell", "-c", EMIT, LOG_FORMAT=value)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stderr.strip().splitlines()[-1])
    assert record["level"] == "WARNING"
    assert record["logger"] == "api.realtime"
    assert record["message"] == "delivery failed for sprint 3"
    assert record["sprint"] == 3
    assert "timestamp" in record


def test_text_logs_by_default() -> None:
    proc = manage("shell", "-c", EMIT, LOG_FORMAT="")
    assert proc.returncode == 0, proc.stderr
    assert "WARNING api.realtime: delivery failed for sprint 3" in proc.stderr


def test_an_unknown_log_format_stops_django_with_a_clear_error() -> None:
    proc = manage("check", LOG_FORMAT="yaml")
    assert proc.returncode != 0
    assert "LOG_FORMAT must be text or json, not 'yaml'" in proc.stderr
