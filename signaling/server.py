"""Command line and process lifecycle: options, logging, listen, graceful shutdown on signals.

Options are ``define()``d on a parser of our own (not Tornado's global one), as in Tornado's
chat demo. ``--name value`` and ``--name=value`` both work, and options marked multiple may
be repeated (``--allowed-origin=a --allowed-origin=b``) or comma-separated.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from pythonjsonlogger.json import JsonFormatter
from tornado.options import OptionParser

from signaling.accept import BackoffHTTPServer, raise_open_files_limit
from signaling.app import ScrumApplication
from signaling.broker import BrokerError
from signaling.config import DEFAULT_ORIGINS, DEV_SECRET, Config
from signaling.turn import check_turn_urls

__all__ = ["build_config", "main", "make_parser", "normalize_argv", "serve"]

log = logging.getLogger(__name__)

LOG_FORMATS = ("text", "json")
EVENT_LOOPS = ("uvloop", "asyncio")

#: ``POST /events/`` may be 1 MiB (answered 413 above); anything far larger is cut off.
MAX_BODY_SIZE = 4 * 1024 * 1024
#: Descriptors a node holds besides its websockets, about: the listener, the event loop,
#: standard streams, Redis connections, and /metrics and /events/ requests in flight
#: (docs/operations.md, sizing).
FDS_RESERVED = 64


def make_parser() -> OptionParser:
    """Every command-line option with its default (see ``signaling.config.Config``)."""
    p = OptionParser()
    d = Config()
    p.define("port", default=d.port, type=int, help="port to listen on")
    p.define("address", default=d.address, help="address to listen on")
    p.define("debug", default=False, type=bool,
             help="seed walkthrough: anonymous clients, any Origin, per-message logs")
    p.define("secret", default=None, type=str,
             help="shared secret with Django (env REALTIME_SECRET)")
    p.define("previous_secret", default=None, type=str,
             help="the secret being rotated out, still accepted (env REALTIME_SECRET_PREVIOUS)")
    p.define("allowed_origin", default=None, type=str, multiple=True,
             help="Origin allowed to connect; repeatable (env REALTIME_ALLOWED_ORIGINS)")
    p.define("ice_server", default=[], type=str, multiple=True,
             help="STUN/TURN URL offered in welcome; repeatable")
    p.define("turn_url", default=[], type=str, multiple=True,
             help="TURN URL offered with a time-limited credential; repeatable "
                  "(env TURN_URLS, comma-separated); needs --turn-secret")
    p.define("turn_secret", default=None, type=str,
             help="coturn's static-auth-secret (env TURN_SECRET)")
    p.define("turn_ttl", default=None, type=float,
             help=f"seconds a TURN credential is valid (env TURN_TTL; default {d.turn_ttl:g})")
    p.define("broker", default=d.broker,
             help="memory:// (one node), redis://host:port/db (one Redis) or "
                  "redis+cluster://host:port[,host:port...] (Redis Cluster); rediss for TLS")
    p.define("redis_prefix", default=d.redis_prefix,
             help="prefix of every Redis key and channel (Redis broker)")
    p.define("presence_ttl", default=d.presence_ttl, type=float,
             help="seconds before a silent node's peers are removed (Redis broker)")
    p.define("history_size", default=d.history_size, type=int, help="events kept per sprint")
    p.define("history_age", default=d.history_age, type=float,
             help="seconds an event is kept for resume")
    p.define("relay_rate", default=d.relay_rate, type=float,
             help="relay frames per second per connection")
    p.define("max_message_size", default=d.max_message_size, type=int,
             help="largest client frame in bytes (larger: close 1009)")
    p.define("replay_window", default=d.replay_window, type=float,
             help="seconds a POST /events/ timestamp may be off")
    p.define("ping_interval", default=d.ping_interval, type=float,
             help="seconds between websocket pings (0: none)")
    p.define("sse_heartbeat", default=d.sse_heartbeat, type=float,
             help="seconds between heartbeat comments on an idle SSE stream")
    p.define("max_buffer", default=d.max_buffer, type=int,
             help="unsent bytes to one client before closing it with 4009")
    p.define("max_connections_per_address", default=d.max_connections_per_address, type=int,
             help="open websockets per client address (IPv6: per /64); more close with "
                  "4029 (0: no limit)")
    p.define("max_connections_per_user", default=d.max_connections_per_user, type=int,
             help="open websockets per user; more close with 4029 (0: no limit)")
    p.define("max_pending_joins", default=d.max_pending_joins, type=int,
             help="joins in progress (handshake until welcome) before more handshakes are "
                  "answered 503 with Retry-After (0: no limit)")
    p.define("join_concurrency", default=d.join_concurrency, type=int,
             help="joins registering with the broker at once; the others wait in order "
                  "(0: no limit)")
    p.define("join_retry_after", default=d.join_retry_after, type=float,
             help="shortest Retry-After in seconds of a shed handshake (jittered up to twice)")
    p.define("num_proxies", default=None, type=int,
             help="reverse proxies in front that append to X-Forwarded-For; the client "
                  f"address is read from it only if above 0 (env REALTIME_NUM_PROXIES; "
                  f"default {d.num_proxies})")
    p.define("http_timeout", default=d.http_timeout, type=float,
             help="seconds an HTTP request may take to send its headers, or its body")
    p.define("log_format", default=None, type=str,
             help=f"{' or '.join(LOG_FORMATS)}: one JSON object per line for a log "
                  f"collector (env LOG_FORMAT; default {d.log_format})")
    p.define("event_loop", default=None, type=str,
             help=f"{' or '.join(EVENT_LOOPS)} (env REALTIME_EVENT_LOOP; default "
                  f"{d.event_loop}, asyncio where uvloop is not installed)")
    return p


def normalize_argv(argv: Sequence[str], parser: OptionParser) -> list[str]:
    """Turn ``--name value`` into ``--name=value`` and merge repeated multiple options.

    Tornado's parser wants ``--name=value`` and keeps only the last occurrence of an option.
    """
    known = {name.replace("_", "-"): opt for name, opt in parser._options.items()}
    out: list[str] = [argv[0]] if argv else [""]
    repeated: dict[str, list[str]] = {}
    args = list(argv[1:])
    while args:
        arg = args.pop(0)
        name, eq, value = arg.lstrip("-").partition("=")
        opt = known.get(name.replace("_", "-")) if arg.startswith("--") else None
        if opt is None:
            out.append(arg)
            continue
        if not eq and opt.type is not bool and args and not args[0].startswith("--"):
            value, eq = args.pop(0), "="
        if opt.multiple and eq:
            repeated.setdefault(name, []).append(value)
        else:
            out.append(arg if not eq else f"--{name}={value}")
    out += [f"--{name}={','.join(values)}" for name, values in repeated.items()]
    return out


def build_config(argv: Sequence[str], environ: dict[str, str] | None = None) -> Config:
    """The server's ``Config`` from a command line (``sys.argv`` shape) and the environment."""
    env = os.environ if environ is None else environ
    parser = make_parser()
    parser.parse_command_line(normalize_argv(argv, parser), final=False)
    o = parser
    secret = o.secret or env.get("REALTIME_SECRET") or DEV_SECRET
    origins = o.allowed_origin or [s for s in env.get("REALTIME_ALLOWED_ORIGINS", "").split(",")
                                   if s.strip()] or list(DEFAULT_ORIGINS)
    turn_urls = o.turn_url or [s.strip() for s in env.get("TURN_URLS", "").split(",")
                                if s.strip()]
    turn_secret = o.turn_secret or env.get("TURN_SECRET") or None
    check_turn_urls(turn_urls)
    if turn_urls and not turn_secret:
        raise ValueError("--turn-url needs --turn-secret or TURN_SECRET (coturn's "
                         "static-auth-secret)")
    turn_ttl = o.turn_ttl if o.turn_ttl is not None else float(env.get("TURN_TTL") or
                                                               Config().turn_ttl)
    if turn_ttl <= 0:
        raise ValueError("--turn-ttl must be positive")
    log_format = (o.log_format or env.get("LOG_FORMAT") or Config().log_format).lower()
    num_proxies = (o.num_proxies if o.num_proxies is not None
                   else int(env.get("REALTIME_NUM_PROXIES") or Config().num_proxies))
    _check_limits(o, num_proxies)
    event_loop = (o.event_loop or env.get("REALTIME_EVENT_LOOP") or Config().event_loop).lower()
    if event_loop not in EVENT_LOOPS:
        raise ValueError(f"--event-loop must be {' or '.join(EVENT_LOOPS)}, not {event_loop!r}")
    if log_format not in LOG_FORMATS:
        raise ValueError(f"--log-format must be {' or '.join(LOG_FORMATS)}, not "
                         f"{log_format!r}")
    return Config(
        turn_urls=tuple(turn_urls), turn_secret=turn_secret, turn_ttl=turn_ttl,
        previous_secret=o.previous_secret or env.get("REALTIME_SECRET_PREVIOUS") or None,
        port=o.port, address=o.address, debug=o.debug, secret=secret,
        allowed_origins=tuple(s.strip().rstrip("/").lower() for s in origins),
        ice_servers=tuple(o.ice_server), broker=o.broker, redis_prefix=o.redis_prefix,
        presence_ttl=o.presence_ttl, history_size=o.history_size,
        history_age=o.history_age, relay_rate=o.relay_rate,
        signal_rate=o.relay_rate, max_message_size=o.max_message_size,
        replay_window=o.replay_window, ping_interval=o.ping_interval, max_buffer=o.max_buffer,
        log_format=log_format, max_connections_per_address=o.max_connections_per_address,
        max_connections_per_user=o.max_connections_per_user, num_proxies=num_proxies,
        http_timeout=o.http_timeout, sse_heartbeat=o.sse_heartbeat,
        max_pending_joins=o.max_pending_joins,
        join_concurrency=o.join_concurrency, join_retry_after=o.join_retry_after,
        event_loop=event_loop)


def _check_limits(o: OptionParser, num_proxies: int) -> None:
    for name in ("max_connections_per_address", "max_connections_per_user",
                 "max_pending_joins", "join_concurrency"):
        if getattr(o, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be 0 (no limit) or more")
    if num_proxies < 0:
        raise ValueError("--num-proxies must be 0 or more")
    if o.sse_heartbeat <= 0:
        raise ValueError("--sse-heartbeat must be positive")
    if o.http_timeout <= 0:
        raise ValueError("--http-timeout must be positive")
    if not 0 < o.join_retry_after <= 3600:
        raise ValueError("--join-retry-after must be above 0 and at most 3600 seconds")


def _setup_logging(debug: bool, log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(
            "{levelname}{name}{message}", style="{", timestamp=True,
            rename_fields={"levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, handlers=[handler])
    if debug:  # Tornado's own access log stays at INFO; ours says more
        logging.getLogger("asyncio").setLevel(logging.INFO)


async def serve(config: Config) -> None:
    """Listen until SIGINT/SIGTERM, then close every socket with 1001 and return."""
    soft, hard = raise_open_files_limit()
    log.info("open files limit %d (hard %d): room for about %d connections", soft, hard,
             max(0, soft - FDS_RESERVED))
    app = ScrumApplication(config)
    node = app.node
    await node.broker.start()
    # xheaders stays off: the client address is read from the proxies' headers only as far
    # as --num-proxies says (signaling.admission). The timeouts cut clients that open a
    # connection and never finish their request (Tornado's default waits an hour).
    server = BackoffHTTPServer(app, max_body_size=MAX_BODY_SIZE, xheaders=False,
                               idle_connection_timeout=config.http_timeout,
                               body_timeout=config.http_timeout, metrics=node.metrics)
    server.listen(config.port, config.address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("watercooler listening on http://%s:%s (broker %s, event loop %s%s)",
             config.address, config.port, config.broker, type(loop).__module__.split(".")[0],
             ", DEBUG MODE" if config.debug else "")
    await stop.wait()
    log.info("signal received: stopping")
    server.stop()  # no new connections
    await node.shutdown()
    try:
        await asyncio.wait_for(server.close_all_connections(), timeout=config.shutdown_grace)
    except TimeoutError:
        log.warning("some HTTP connections did not close in time")
    log.info("stopped")


def _runner(event_loop: str) -> Callable[[Coroutine[Any, Any, None]], None]:
    """``asyncio.run`` on the event loop asked for: uvloop where installed, else asyncio."""
    if event_loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed (pip install -r requirements.txt): running "
                        "on asyncio's event loop")
        else:
            return uvloop.run
    return asyncio.run


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``watercooler.py``; returns the process exit code."""
    try:
        config = build_config(sys.argv if argv is None else argv)
    except Exception as exc:  # tornado.options.Error and bad values
        print(f"watercooler: {exc}", file=sys.stderr)
        return 2
    _setup_logging(config.debug, config.log_format)
    if config.secret == DEV_SECRET:
        log.warning("*** no --secret or REALTIME_SECRET: using the development secret %r. "
                    "Anyone can forge tickets and events. Never do this in production. ***",
                    DEV_SECRET)
    if config.debug:
        log.warning("*** --debug: anonymous connections and any Origin are accepted ***")
    try:
        _runner(config.event_loop)(serve(config))
    except BrokerError as exc:
        log.error("%s", exc)
        return 2
    return 0
