"""``python -m ollama_core.emulator [--host H] [--port N]``: serve until Ctrl-C or SIGTERM.

Faults can then be armed from anywhere over HTTP, e.g.
``curl -H 'Content-Type: application/json' -d '{"path": "/api/chat", "status": 503}'
http://127.0.0.1:N/_emulator/faults`` (the control API takes JSON bodies only, addressed
to the emulator's own host and port). A ``--host`` beyond loopback is served, with a
warning on stderr: anyone who can reach it can arm faults and read recorded requests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from ._app import OllamaEmulator
from ._guard import is_loopback


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ollama_core.emulator", description="Serve an emulated Ollama API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434, help="0 picks a free port")
    parser.add_argument("--chunk-delay", type=float, default=0.0,
                        help="seconds between stream chunks")
    parser.add_argument("--ollama-version", default="0.33.0", dest="server_version",
                        help="what /api/version reports")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows
            loop.add_signal_handler(signum, stop.set)
    if not is_loopback(args.host):
        print(
            f"WARNING: listening on {args.host!r}, beyond loopback: other machines can reach "
            "this emulator and its /_emulator control API (faults, recorded requests)",
            file=sys.stderr,
            flush=True,
        )
    async with OllamaEmulator(
        args.host, args.port, chunk_delay=args.chunk_delay, version=args.server_version
    ) as emulator:
        print(f"Ollama emulator listening on {emulator.url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:  # the signal handler could not be installed
        pass
    except OSError as exc:
        print(f"cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
