"""``NDJSONDecoder.feed_batch`` gives exactly what ``feed`` gives: the same objects, line
numbers, errors and buffered rest, whether it decodes the batch at once or falls back."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from ollama_core import LineTooLongError, MalformedLineError, NDJSONDecoder
from ollama_core import _ndjson


def _outcome(decode: Callable[[NDJSONDecoder, bytes], Any], pieces: list[bytes],
             max_line_length: int = 1 << 20, stop_at_done: bool = False) -> Any:
    """Objects, then (error type, line) or the decoder's state after the last piece."""
    decoder = NDJSONDecoder(max_line_length, endpoint="chat")
    out: list[Any] = []
    try:
        for piece in pieces:
            for obj in decode(decoder, piece):
                out.append(obj)
                if stop_at_done and obj.get("done") is True:
                    # (line_number then counts the whole batch when it was decoded at once)
                    return out, "stopped"
        out.extend(decoder.close())
    except (MalformedLineError, LineTooLongError) as exc:
        return out, type(exc).__name__, str(exc)
    return out, decoder.line_number


def _feed(decoder: NDJSONDecoder, piece: bytes) -> Any:
    return decoder.feed(piece)


def _batch(decoder: NDJSONDecoder, piece: bytes) -> Any:
    return decoder.feed_batch(piece)


TRICKY = [
    b'{"a":1}\n{"b":2}\n',
    b'{"a":1}\n{"b":2}',                    # the last line without its newline
    b'{"a":\n1}\n{"b":2}\n',                # a value across two lines
    b'{"a":1}{"b":2}\n{"c":3}\n',           # two values on a line
    b'{"a":1} {"b":2}\n\n',                 # two values on a line, a blank line
    b'{"a":{}\n}{"b":2}\n',                 # "}" then "{" is never inside a value
    b'{"a":1}\n\n{"b":2}\n',                # a blank line
    b'{"a":1}\n  \n{"b":2}\n',
    b'{"a":1}\r\n{"b":2}\r\n',
    b'\xef\xbb\xbf{"a":1}\n',               # a BOM
    b'{"a":1}\n[1]\n',                      # not an object
    b'{"a":1}\n{"b":NaN}\n',                # what msgspec refuses and json accepts
    b'{"a":1}\n{"b":1e999}\n',
    b'{"a":1}\n{"b":"\xff"}\n',             # invalid UTF-8
    b'{"a":1}\n{"b":"x\ty"}\n',             # a raw control character in a string
    b'{"a":"}\n{"}\n',
    b'{"a":1}\n{"b":2}\n{"c":',             # an incomplete last line, kept for later
    b'{"a":1, "a":2}\n{"b":2}\n',           # duplicate keys
    b'{"done":true}\n{broken\n',            # a bad line after the terminal one
    b'\n',
    b'',
]


@pytest.mark.parametrize("data", TRICKY, ids=repr)
def test_tricky_batches(data: bytes) -> None:
    for stop in (False, True):
        assert _outcome(_batch, [data], stop_at_done=stop) == \
            _outcome(_feed, [data], stop_at_done=stop)
    # and split in two anywhere
    for i in range(len(data) + 1):
        pieces = [data[:i], data[i:]]
        assert _outcome(_batch, pieces) == _outcome(_feed, pieces), pieces


def test_a_line_after_the_terminal_one_is_never_decoded() -> None:
    decoder = NDJSONDecoder()
    objs = decoder.feed_batch(b'{"done":true}\n{broken\n')
    assert next(iter(objs)) == {"done": True}  # stopping here raises nothing


def test_line_length_bounds_are_the_same() -> None:
    for data in (b'{"a":"' + b"x" * 50 + b'"}\n{"b":1}\n',
                 b'{"b":1}\n{"a":"' + b"x" * 50,
                 b'{"b":1}\n{"a":"' + b"x" * 50 + b'"}\n'):
        for limit in (8, 40, 60, 100):
            assert _outcome(_batch, [data], limit) == _outcome(_feed, [data], limit)


def test_a_batch_of_chat_lines_is_decoded_at_once() -> None:
    if _ndjson._fast_lines is None:
        pytest.skip("without msgspec feed_batch is feed")
    lines = b"".join(json.dumps({"message": {"content": str(i)}, "done": False}).encode()
                     + b"\n" for i in range(5))
    decoder = NDJSONDecoder()
    objs = decoder.feed_batch(lines + b'{"done"')
    assert isinstance(objs, list) and len(objs) == 5 and decoder.line_number == 5
    assert list(decoder.feed_batch(b":true}\n")) == [{"done": True}]


ATOMS = [b'{"a":1}', b'{"b":[1,2,{"c":"}"}]}', b'{"d":"\\u00e9\xc3\xa9"}', b'{}', b'[1]',
         b'{"e":', b'1}', b'  ', b'', b'{"f":NaN}', b'{"g":true}{"h":2}', b'{"i":"\\n"}',
         b'\r', b'{"j":{}}', b'{"k":1e400}', b'"s"', b'{"done":true}']


def test_random_streams_give_the_same_outcome() -> None:
    rng = random.Random(13)
    for _ in range(3000):
        n = rng.randint(1, 8)
        body = b"".join(rng.choice(ATOMS[:4] * 3 + ATOMS) + rng.choice([b"\n"] * 6 + [b"\r\n", b""])
                        for _ in range(n))
        cuts = sorted(rng.sample(range(len(body) + 1), k=min(rng.randint(0, 3), len(body) + 1)))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)])]
        limit = rng.choice([1 << 20, 1 << 20, 12, 30])
        stop = rng.random() < 0.3
        assert _outcome(_batch, pieces, limit, stop) == _outcome(_feed, pieces, limit, stop), \
            (pieces, limit, stop)
