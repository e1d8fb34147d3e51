"""Incremental NDJSON decoding.

Bytes arrive in arbitrary pieces: a line may span several reads, a multi-byte UTF-8
character may be split between two reads, blank lines may appear, and the last line may
lack its newline. The decoder buffers bytes and decodes only complete lines, so none of
these cases needs special handling beyond the buffer itself. A line longer than
``max_line_length`` raises instead of growing the buffer without bound.

Every line must be a JSON object: anything else (invalid JSON, another JSON value, JSON
nested deeper than the parser allows) is a :class:`~ollama_core.MalformedLineError`
naming the endpoint and the line, never a ``RecursionError``.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable, Iterator
from typing import Any

from ._exceptions import LineTooLongError, MalformedLineError, excerpt_of
from ._json import loads_fast, loads_lines_fast

__all__ = ["DEFAULT_MAX_LINE_LENGTH", "NDJSONDecoder"]

#: The same bound as Ollama's own Go client (8 MiB).
DEFAULT_MAX_LINE_LENGTH = 8 * 1024 * 1024

_loads = json.loads
# msgspec's decoder when installed (see ``_json``): anything it refuses is decoded by
# ``_decode`` (json.loads), so it changes speed only.
_fast = loads_fast
_fast_lines = loads_lines_fast
# The C scanner json.loads ends in, called directly: ``json.loads(line)`` of a str spends
# more time in its Python wrapper (encoding checks, two whitespace regexes) than in the
# scanner. A line it parses whole is exactly what json.loads would return.
_scan: Callable[[str, int], tuple[Any, int]] = \
    json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed


class NDJSONDecoder:
    """Feed bytes, get decoded JSON objects.

    >>> d = NDJSONDecoder()
    >>> list(d.feed(b'{"a": 1}\\n{"b"'))
    [{'a': 1}]
    >>> list(d.feed(b': 2}\\n\\n'))
    [{'b': 2}]
    >>> list(d.close())
    []
    """

    __slots__ = ("_buf", "_max", "endpoint", "line_number")

    def __init__(self, max_line_length: int = DEFAULT_MAX_LINE_LENGTH, *,
                 endpoint: str | None = None) -> None:
        self._buf = b""
        self._max = max_line_length
        #: The operation whose stream this is, named in errors (``"chat"``).
        self.endpoint = endpoint
        #: Number of lines seen so far, blank ones included (for error messages).
        self.line_number = 0

    def feed(self, data: bytes) -> Iterator[dict[str, Any]]:
        """Decode every complete line in the buffer plus ``data``."""
        buf = self._buf + data if self._buf else data
        if b"\n" not in buf:
            if len(buf) > self._max:
                self._buf = b""
                raise LineTooLongError(
                    f"stream line {self.line_number + 1} exceeds {self._max} bytes",
                    limit=self._max)
            self._buf = buf
            return
        end = buf.rfind(b"\n")
        if len(buf) - end - 1 > self._max:
            number = self.line_number + buf.count(b"\n", 0, end) + 2
            raise LineTooLongError(f"stream line {number} exceeds {self._max} bytes",
                                   limit=self._max)
        self._buf = buf[end + 1:]
        fast = _fast
        if fast is not None and end <= self._max:
            # Fast path (msgspec): lines are found and decoded one at a time (UTF-8 checked
            # by the decoder), so a stream paused after its first line holds the one buffer
            # it arrived in, not a list of split lines (nor a view of it). A batch no longer
            # than the bound cannot hold a too-long line. Whatever msgspec refuses (blank
            # lines, bad JSON, NaN, invalid UTF-8...) takes the per-line path on the line's
            # bytes, so results, errors and line numbers are exactly those of json.loads.
            del data
            start = 0
            while True:
                stop = buf.find(b"\n", start, end)
                if stop < 0:
                    stop = end  # the last complete line ends at the batch's last newline
                self.line_number += 1
                line = buf[start:stop]
                try:
                    value = fast(line)
                except Exception:
                    value = None
                if type(value) is not dict:
                    value = None if not line or line.isspace() else self._decode(line)
                del line
                if stop == end:
                    break
                start = stop + 1
                if value is not None:
                    yield value
            if value is not None:
                yield value
            return
        # Standard library: decode the UTF-8 of all complete lines at once and scan
        # ``str`` lines, which skips json.loads' per-call encoding detection and wrapper
        # (more than half of its cost on a chat chunk). Anything unusual (invalid UTF-8, a
        # bad line, a BOM) goes through ``_decode`` on the line's bytes, so errors and
        # edge cases are exactly those of the slow path. Only the split lines stay
        # referenced while they are consumed (no copy of the bytes, no whole text).
        text = None
        if end <= self._max:
            try:
                text = str(memoryview(buf)[:end], "utf-8")
            except UnicodeDecodeError:
                pass
        if text is not None:
            scan = _scan
            items = text.split("\n")
            del text, buf, data
            for item in items:
                self.line_number += 1
                try:
                    value, stop = scan(item, 0)
                except (StopIteration, ValueError, RecursionError):
                    stop = -1
                if stop == len(item) and type(value) is dict:  # a whole line, one object
                    yield value
                    continue
                # Blank lines, surrounding whitespace, errors and non-objects: the slow path.
                if not item or (item.isspace() and item.encode().isspace()):
                    continue
                yield self._decode(item.encode())
            return
        for line in buf[:end].split(b"\n"):
            self.line_number += 1
            if len(line) > self._max:
                raise LineTooLongError(
                    f"stream line {self.line_number} exceeds {self._max} bytes", limit=self._max)
            if not line or line.isspace():
                continue
            yield self._decode(line)

    def feed_batch(self, data: bytes) -> list[dict[str, Any]] | Iterator[dict[str, Any]]:
        """What ``feed(data)`` yields, the same objects, line numbers and errors, as a list
        when the batch can be decoded at once, else as ``feed``'s own iterator (so a line
        after the one a caller stops at is still never decoded). For a caller that folds a
        batch's lines as they come (a plain call reading its stream).

        With msgspec, a batch whose every line is one JSON object starting with ``{`` and
        ending with ``}`` is decoded in one call (2.5x faster on a chat's lines). That
        shape is what makes one call equal to decoding line by line: a raw newline cannot
        be inside a JSON string, and inside a value a ``}`` is never followed by ``{``, so
        when every newline sits between ``}`` and ``{`` no value spans two lines; every
        line holds a value, so as many values as lines means one per line. Anything
        else (a blank line, ``\\r\\n``, a refusal, a value that is not an object) is
        left to :meth:`feed`, as if this call had not been made. (Decoded at once, the
        batch's lines are counted in ``line_number`` at once too.)
        """
        lines = _fast_lines
        buf = self._buf + data if self._buf else data
        end = buf.rfind(b"\n")
        if lines is not None and 0 < end <= self._max and len(buf) - end - 1 <= self._max \
                and buf[0] == 0x7B and buf[end - 1] == 0x7D:  # "{" ... "}"
            newlines = buf.count(b"\n", 0, end)
            if buf.count(b"}\n{", 0, end + 1) == newlines:
                try:
                    values = lines(buf[:end])
                except Exception:
                    values = None
                # One value per line, and every line starts with "{": each is an object.
                if values is not None and len(values) == newlines + 1:
                    self._buf = buf[end + 1:]
                    self.line_number += newlines + 1
                    return values
        return self.feed(data)

    def close(self) -> Iterator[dict[str, Any]]:
        """Decode what is left at end of stream (a last line without newline)."""
        rest, self._buf = self._buf, b""
        if rest and not rest.isspace():
            self.line_number += 1
            yield self._decode(rest)

    @property
    def _prefix(self) -> str:
        # Made for an error message only: every open stream has a decoder.
        return f"{self.endpoint}: " if self.endpoint else ""

    def _decode(self, line: bytes) -> dict[str, Any]:
        try:
            value = _loads(line)
        except (ValueError, RecursionError) as exc:  # also UnicodeDecodeError; too deep
            excerpt = excerpt_of(line)
            why = "is nested too deeply" if isinstance(exc, RecursionError) \
                else f"is not valid JSON ({exc})"
            raise MalformedLineError(
                f"{self._prefix}stream line {self.line_number} {why}: {excerpt!r}",
                line_number=self.line_number, excerpt=excerpt,
                endpoint=self.endpoint) from exc
        if not isinstance(value, dict):
            excerpt = excerpt_of(line)
            raise MalformedLineError(
                f"{self._prefix}stream line {self.line_number} is not a JSON object: "
                f"{excerpt!r}", line_number=self.line_number, excerpt=excerpt,
                endpoint=self.endpoint)
        return value
