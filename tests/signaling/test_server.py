"""``signaling.server`` command line and ``signaling.broker`` envelopes (no process started)."""

from __future__ import annotations

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
