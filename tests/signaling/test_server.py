"""``signaling.server`` command line, ``signaling.admission`` addresses and ``signaling.broker``
envelopes (no process started)."""

from __future__ import annotations

import pytest

from signaling.admission import address_key, client_address
from signaling.broker import Envelope
from signaling.config import DEV_SECRET, Config
from signaling.server import build_config


def test_defaults() -> None:
    config = build_config(["watercooler.py"], environ={})
    assert config == Config()
    assert config.port == 8080 and config.secret == DEV_SECRET
    assert config.allowed_origins == ("http://127.0.0.1:8000", "http://localhost:8000")


def test_options_in_both_spellings_and_repeated() -> None:
    config = build_config(["w", "--port", "9000", "--debug", "--allowed-origin=http://A.example/",
                           "--allowed-origin", "http://b.example", "--ice-server=stun:x",
                           "--relay-rate=30", "--history_size=5", "--secret", "s3cret"],
                          environ={})
    assert config.port == 9000
    assert config.debug
    assert config.allowed_origins == ("http://a.example", "http://b.example")
    assert config.ice_server_list == [{"urls": ["stun:x"]}]
    assert config.relay_rate == 30 and config.signal_rate == 30
    assert config.history_size == 5
    assert config.secret == "s3cret"


def test_environment_fills_in_secret_and_origins() -> None:
    env = {"REALTIME_SECRET": "from-env", "REALTIME_ALLOWED_ORIGINS": "http://x.example, http://y"}
    config = build_config(["w"], environ=env)
    assert config.secret == "from-env"
    assert config.allowed_origins == ("http://x.example", "http://y")
    assert build_config(["w", "--secret=cli"], environ=env).secret == "cli"


def test_envelope_bus_bytes_round_trip() -> None:
    envelope = Envelope(7, '{"type":"relay","data":{"x":"é\\n"}}'.encode(), "relay",
                        exclude="p1", to=("p2", "p3"))
    origin, back = Envelope.unpack(envelope.pack("node-a"))
    assert origin == "node-a"
    assert back == envelope
    _, plain = Envelope.unpack(Envelope(8, b"ping", "raw").pack("n"))
    assert plain == Envelope(8, b"ping", "raw")


def test_connection_limits_and_proxies() -> None:
    config = build_config(["w"], environ={})
    assert (config.max_connections_per_address, config.max_connections_per_user) == (200, 50)
    assert config.num_proxies == 0 and config.http_timeout == 10
    config = build_config(["w", "--max-connections-per-address=0", "--http-timeout=2.5"],
                          environ={"REALTIME_NUM_PROXIES": "1"})
    assert config.max_connections_per_address == 0 and config.http_timeout == 2.5
    assert config.num_proxies == 1
    assert build_config(["w", "--num-proxies=2"], environ={"REALTIME_NUM_PROXIES": "1"}
                        ).num_proxies == 2


@pytest.mark.parametrize("argv", [["w", "--max-connections-per-user=-1"],
                                  ["w", "--num-proxies=-1"], ["w", "--http-timeout=0"]])
def test_bad_limits_stop_the_server(argv: list[str]) -> None:
    with pytest.raises(ValueError, match="must be"):
        build_config(argv, environ={})


@pytest.mark.parametrize(("forwarded", "real_ip", "proxies", "expected"), [
    ("203.0.113.1", None, 0, "10.0.0.1"),  # no proxy trusted: the header is anybody's
    ("203.0.113.1", None, 1, "203.0.113.1"),
    ("198.51.100.7, 203.0.113.1", None, 1, "203.0.113.1"),  # the client's own entry: no
    ("198.51.100.7, 203.0.113.1, 10.0.0.9", None, 2, "203.0.113.1"),
    ("203.0.113.1", None, 3, "203.0.113.1"),  # fewer entries than proxies: the first
    (None, "203.0.113.5", 1, "203.0.113.5"),
    ("not an address", None, 1, "10.0.0.1"),
    ("", None, 1, "10.0.0.1"),
])
def test_client_address(forwarded: str | None, real_ip: str | None, proxies: int,
                        expected: str) -> None:
    assert client_address("10.0.0.1", forwarded, real_ip, proxies) == expected


def test_ipv6_addresses_count_per_64() -> None:
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("192.0.2.1") == "192.0.2.1"
