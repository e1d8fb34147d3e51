"""``health``, ``version`` and ``emulator``: the server itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Mapping
from typing import Any

from ..._client import OllamaClient
from ..._exceptions import InvalidConfigError, OllamaError
from ..errors import EXIT_ERROR, EXIT_OK, EXIT_USAGE, CLIError, report
from ..output.humanize import plural
from ..parser import PROG
from ..session import Session, json_default

__all__ = ["emulator", "health", "status", "version"]


async def _health_report(session: Session) -> dict[str, Any]:
    """Availability, version and, with health_checks, the plugin's per-upstream report.

    Async because the plugin's ``check_now()`` is a coroutine meant to run on the
    client's loop; a short-lived async client is simpler than reaching into the sync
    client's loop thread.
    """
    try:
        client = OllamaClient(session.host, **session.client_kwargs())
    except (InvalidConfigError, ValueError, TypeError) as exc:
        raise CLIError(f"invalid configuration: {exc}", EXIT_USAGE) from exc
    async with client:
        result: dict[str, Any] = {"url": client.base_url, "available": False, "version": None}
        limit = min(session.args.timeout or 5.0, 5.0)
        result["available"] = await client.is_available(timeout=limit)
        if result["available"]:
            with contextlib.suppress(OllamaError):
                result["version"] = await client.version()
        if "health_checks" in client.plugins:
            plugin = client.plugin("health_checks")
            check_now = getattr(plugin, "check_now", None)
            if callable(check_now):
                await check_now()
            report = plugin.report()
            result["upstreams"] = json.loads(json.dumps(report, default=json_default))
        return result


def _upstream_summary(entry: Any) -> str:
    """One line about one upstream of the health_checks report."""
    if not isinstance(entry, Mapping):
        return str(entry)
    parts = [str(entry.get("status", "unknown"))]
    latency = entry.get("latency")
    if isinstance(latency, (int, float)):
        parts.append(f"latency {latency * 1000:.1f} ms")
    if "checks" in entry:
        parts.append(f"{entry['checks']} checks, {entry.get('failed_checks', 0)} failed")
    if entry.get("last_error"):
        parts.append(f"last error: {entry['last_error']}")
    return "  ".join(parts)


def _unhealthy(upstreams: Any) -> list[str]:
    """The upstreams of the health_checks report that are down: called unhealthy, or
    not yet called anything while their last check failed."""
    if not isinstance(upstreams, Mapping):
        return []
    return [url for url, e in upstreams.items() if isinstance(e, Mapping) and (
        e.get("status") == "unhealthy"
        or (e.get("status") != "healthy" and (e.get("consecutive_failures") or 0) > 0))]


def health(session: Session) -> int:
    result = asyncio.run(_health_report(session))
    upstreams = result.get("upstreams")
    if session.json:
        session.emit_json(result)
    else:
        lines = [f"server   {result['url']}",
                 f"status   {'available' if result['available'] else 'unavailable'}"]
        if result["version"]:
            lines.append(f"version  {result['version']}")
        if isinstance(upstreams, Mapping):
            lines.append("upstreams")
            lines.extend(f"  {url}  {_upstream_summary(entry)}"
                         for url, entry in upstreams.items())
        session.write("\n".join(lines) + "\n")
    # Exit 0 only when everything printed is available: a healthy secondary still
    # serves requests, but a script asking `health` wants to hear of the one that is down.
    if not result["available"]:
        report(f"cannot connect to {result['url']}: is Ollama running? "
               "(set OLLAMA_HOST or pass --host URL)", EXIT_ERROR, as_json=session.json)
        return EXIT_ERROR
    down = _unhealthy(upstreams)
    if down:
        report(f"{len(down)} {plural(len(down), 'upstream')} unavailable: {', '.join(down)}",
               EXIT_ERROR, as_json=session.json)
        return EXIT_ERROR
    return EXIT_OK


def version(session: Session) -> int:
    from ... import __version__

    client = session.client
    server: str | None = None
    if client.is_available(timeout=min(session.args.timeout or 5.0, 5.0)):
        with contextlib.suppress(OllamaError):
            server = client.version()
    if session.json:
        session.emit_json({"client": __version__, "server": server, "url": client.base_url})
        return EXIT_OK
    session.write(f"{PROG} version {__version__}\n")
    if server is None:
        session.warn("warning: could not connect to a running Ollama instance at "
                     f"{client.base_url}")
    else:
        session.write(f"server version {server} ({client.base_url})\n")
    return EXIT_OK


def status(session: Session) -> int:
    """``GET /api/status``: whether the server may use ollama.com, and what decided it."""
    answer = session.client.status()
    if session.json:
        session.emit_json(answer.to_dict())
        return EXIT_OK
    cloud = answer.cloud
    state = "disabled" if cloud.disabled else "enabled"
    session.write(f"server   {session.client.base_url}\n"
                  f"cloud    {state} (source: {cloud.source or 'unknown'})\n")
    return EXIT_OK


async def _serve_emulator(session: Session) -> None:
    from ...emulator import OllamaEmulator

    args = session.args
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
            loop.add_signal_handler(signum, stop.set)
    async with OllamaEmulator(args.bind_host, args.bind_port,
                              chunk_delay=args.chunk_delay) as served:
        # The URL alone on the first line, so scripts can read it (`| head -1`).
        if session.json:
            session.emit_json({"url": served.url})
        else:
            session.write(served.url + "\n")
        session.warn(f"Ollama emulator listening on {served.url} "
                     f"(use --host {served.url} or OLLAMA_HOST); Ctrl-C or SIGTERM stops it")
        await stop.wait()


def emulator(session: Session) -> int:
    args = session.args
    if args.emulator:
        raise CLIError("--emulator cannot be combined with the emulator command", EXIT_USAGE)
    try:
        asyncio.run(_serve_emulator(session))
    except KeyboardInterrupt:  # the signal handler could not be installed
        pass
    except OSError as exc:
        raise CLIError(f"cannot serve on {args.bind_host}:{args.bind_port}: "
                       f"{exc.strerror or exc}") from exc
    session.warn("emulator stopped")
    return EXIT_OK
