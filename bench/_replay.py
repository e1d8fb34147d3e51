"""A replay server: the emulator's own answers, sent back at almost no server cost.

Scenario (a) judges the clients on their own CPU per request, but against the emulator
the server is the slower process: it spends about 170 to 200 µs on a chat, so every client
waits for it, takes an event-loop wake-up and a read per answer, and its CPU per request
grows with that (plain aiohttp costs about 190 µs per request against the emulator and
about 110 µs against this server, on the same machine). This server records, at start,
what the emulator answers to the benchmark's chat (streamed and ``"stream": false``), to
``GET /`` and to ``GET /api/version``, then answers every request with those bytes, as
the emulator frames them (a streamed answer in HTTP chunks, one per NDJSON line). It
parses each request (headers, ``Content-Length``, the JSON body's ``"stream"``) and keeps
connections alive, so a client does exactly the work it does against the emulator.

Run by ``bench/run.py`` as ``python bench/_replay.py --record-from URL``; it prints
``listening on URL`` once it is ready, like the emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import urllib.request
from typing import Any

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_MAX_HEAD = 64 * 1024
_MAX_BODY = 16 * 1024 * 1024


def _fetch(url: str, body: dict[str, Any] | None = None) -> tuple[bytes, str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"} if data else {})
    with _OPENER.open(req, timeout=30) as resp:
        return resp.read(), resp.headers.get("Content-Type", "application/json")


def _plain(status: str, content_type: str, body: bytes) -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _chunked(content_type: str, body: bytes) -> bytes:
    lines = body.splitlines(keepends=True)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(line), line) for line in lines)
    return (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
            f"Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n"


class Answers:
    """The recorded answers, by (method, path, streamed)."""

    def __init__(self, emulator: str, chat: dict[str, Any]) -> None:
        self.by_key: dict[tuple[bytes, bytes, bool], bytes] = {}
        for streamed in (True, False):
            body, kind = _fetch(emulator + "/api/chat", {**chat, "stream": streamed})
            self.by_key[(b"POST", b"/api/chat", streamed)] = (
                _chunked(kind, body) if streamed else _plain("200 OK", kind, body))
        for path in ("/", "/api/version"):
            body, kind = _fetch(emulator + path)
            self.by_key[(b"GET", path.encode(), False)] = _plain("200 OK", kind, body)
        self.not_found = _plain("404 Not Found", "application/json",
                                b'{"error":"not recorded by the replay server"}')


class ReplayProtocol(asyncio.Protocol):
    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        transport = self.transport
        assert transport is not None
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD:
                    transport.close()
                return
            head = bytes(buffer[:end])
            request_line, _, rest = head.partition(b"\r\n")
            method, path, _version = request_line.split(b" ", 2)
            length = 0
            close = False
            for line in rest.split(b"\r\n"):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length > _MAX_BODY:
                transport.close()
                return
            if len(buffer) < end + 4 + length:
                return
            body = bytes(buffer[end + 4:end + 4 + length])
            del buffer[:end + 4 + length]
            streamed = False
            if body:
                streamed = json.loads(body).get("stream", True) is not False
            transport.write(self.answers.by_key.get((method, path.split(b"?")[0], streamed),
                                                    self.answers.not_found))
            if close:
                transport.close()
                return


async def serve(emulator: str, chat: dict[str, Any], host: str) -> None:
    answers = Answers(emulator, chat)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ReplayProtocol(answers), host, 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on http://{host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record-from", required=True, help="the emulator's URL")
    parser.add_argument("--chat", required=True, help="the chat request, as JSON")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.record_from.rstrip("/"), json.loads(args.chat), args.host))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
