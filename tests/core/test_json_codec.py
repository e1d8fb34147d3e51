"""The fast JSON codec (``ollama_core._json``) changes speed, never a result or an error.

Every input is decoded both ways, by the codec and by ``json.loads``, and must give the
same value (compared by ``repr``, so ``1``/``1.0``/``True`` and ``nan`` are told apart) or
the same exception. The NDJSON decoder is run with and without the fast library on the
same random streams, split at random points. A subset of the suite also runs with the
fast library hidden (``OLLAMA_CORE_PURE_JSON=1``), the standard-library path CI keeps.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ollama_core import LineTooLongError, MalformedLineError, _json, _ndjson
from ollama_core._ndjson import NDJSONDecoder

ROOT = Path(__file__).resolve().parents[2]

SEEDS = [
    b'{"model":"llama3.2","message":{"role":"assistant","content":" hi"},"done":false}',
    b'{"a": [1, 2.5, -0.0, 1e5, 1E-7, true, false, null], "b": {"c": "\\u00e9\\n"}}',
    b'{"embeddings": [[0.1, -0.25, 3.0e-3], [1, 2, 3]]}',
    '{"text": "日本 ✓ ünï", "n": 12345678901234567890123}'.encode(),
    b'[1, 2, 3]',
    b'"just a string"',
    b'42',
]

#: Inputs where the two libraries differ in leniency or in the errors they raise.
EDGES = [
    b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": "\\ud800"}',
    b'{"a": "\\udc00\\ud800"}', b'{"a": 1e400}', b'{"a": -1e400}', b'{"a": 1e-400}',
    b'{"a": ' + b"9" * 5000 + b"}", b'{"a": 123456789012345678901234567890}',
    b'\xef\xbb\xbf{"a": 1}', b' {"a": 1} ', b'{"a": 1}\r', b'{"a": "\xff"}',
    b'{"a": "\xed\xa0\x80"}', b'{"a": 01}', b'{"a": +1}', b'{"a": .5}', b'{"a": 1,}',
    b"{'a': 1}", b'{"a": "\t"}', b'{"a": 1} x', b'{"a": 1}\x00', b'{"a": 1}{"b": 2}',
    b'[' * 3000 + b']' * 3000, b'{"a": 1, "a": 2}', b'', b'   ', b'{"a": "\\x"}',
    b'{"\\ud83d\\ude00": "\\uD83D\\uDE00"}', b'{"a": -0}', b'{"a": 1.}', b'{"a": tru}',
]


def _outcome(decode: Any, data: Any) -> tuple[str, str]:
    try:
        return "value", repr(decode(data))
    except RecursionError:
        return "error", "RecursionError"
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"


def _mutants(rng: random.Random, count: int) -> list[bytes]:
    pieces = [b"NaN", b"Infinity", b"\\ud800", b"1e999", b"\xff", b"\xed\xa0\x80", b",",
              b"}", b"]", b'"', b"\\", b" ", b"\t", b"\n", b"0", b"-", b".", b"e", b"9" * 30]
    out = []
    for _ in range(count):
        data = bytearray(rng.choice(SEEDS))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data) + 1)
            roll = rng.random()
            if roll < 0.4:
                data[at:at] = rng.choice(pieces)
            elif roll < 0.7 and data:
                del data[min(at, len(data) - 1)]
            elif data:
                data[min(at, len(data) - 1)] = rng.randrange(256)
        out.append(bytes(data))
    return out


def test_the_fast_library_is_in_use_here() -> None:
    # The dev extra installs msgspec; without it every test below compares json with json.
    if _json.pure():
        assert _json.FAST is None and _json.loads_fast is None
    else:
        pytest.importorskip("msgspec")
        assert _json.FAST == "msgspec"


@pytest.mark.parametrize("data", SEEDS + EDGES)
def test_loads_is_json_loads_on_edges(data: bytes) -> None:
    assert _outcome(_json.loads, data) == _outcome(json.loads, data)


def test_loads_is_json_loads_on_random_mutants() -> None:
    rng = random.Random(13)
    for data in _mutants(rng, 4000):
        assert _outcome(_json.loads, data) == _outcome(json.loads, data), data
        text = data.decode("utf-8", "surrogateescape")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            continue  # not valid as str either way
        assert _outcome(_json.loads, text) == _outcome(json.loads, text), text


def test_loads_takes_a_memoryview() -> None:
    assert _json.loads(memoryview(b'{"a": NaN}'))["a"] != 0
    assert _json.loads(memoryview(b'xx{"a": 1}xx')[2:-2]) == {"a": 1}


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 4 and roll < 0.3:
        return {rng.choice(["a", "é", "model", "日本", "x y"]) + str(i): _random_value(rng, depth + 1)
                for i in range(rng.randint(0, 4))}
    if depth < 4 and roll < 0.5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return rng.choice([
        None, True, False, 0, -1, 2**63, 2**80, -(2**70), 0.1, 1e-5, 1.5e300, -0.0, 5e-324,
        rng.random(), rng.uniform(-1e6, 1e6), "", "text", "ünï ✓ 日本", "\u0000\n\"\\", "😀",
    ])


def test_dumps_round_trips_exactly() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        value = {"model": "m", "body": _random_value(rng)}
        raw = _json.dumps(value)
        assert isinstance(raw, bytes)
        assert json.loads(raw) == value
        assert repr(json.loads(raw)) == repr(value)  # int stays int, float stays float
        if _json.FAST is None:  # the standard encoder, byte for byte
            assert raw == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def test_dumps_refuses_what_json_refuses() -> None:
    class Text(str):
        pass

    assert _json.dumps({"a": Text("x")}) == b'{"a":"x"}'  # json writes str subclasses
    with pytest.raises(TypeError):
        _json.dumps({"a": object()})


# -- the NDJSON decoder, with and without the fast library ---------------------------------


def _decode_stream(pieces: list[bytes], max_line: int) -> tuple[list[str], str | None, int]:
    decoder = NDJSONDecoder(max_line, endpoint="chat")
    out: list[str] = []
    try:
        for piece in pieces:
            out.extend(repr(obj) for obj in decoder.feed(piece))
        out.extend(repr(obj) for obj in decoder.close())
    except (MalformedLineError, LineTooLongError) as exc:
        extra = (exc.line_number, exc.excerpt) if isinstance(exc, MalformedLineError) else ()
        return out, f"{type(exc).__name__}: {exc} {extra}", decoder.line_number
    return out, None, decoder.line_number


def _random_stream(rng: random.Random) -> bytes:
    lines = []
    for _ in range(rng.randint(1, 12)):
        roll = rng.random()
        if roll < 0.6:
            lines.append(json.dumps(_random_value(rng), ensure_ascii=rng.random() < 0.5).encode()
                         if rng.random() < 0.2 else
                         json.dumps({"i": rng.randint(0, 9), "t": "ü ✓", "done": False}).encode())
        elif roll < 0.75:
            lines.append(rng.choice([b"", b"  ", b"\r", b"\t ", b"\xc2\xa0"]))
        else:
            lines.append(rng.choice(_mutants(rng, 1) + EDGES[:16]))
    sep = b"\r\n" if rng.random() < 0.2 else b"\n"
    data = sep.join(lines)
    return data + sep if rng.random() < 0.8 else data


def test_ndjson_fast_and_standard_paths_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    if _ndjson._fast is None:
        pytest.skip("the fast library is not in use")
    rng = random.Random(2026)
    for _ in range(3000):
        data = _random_stream(rng)
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 4)))) \
            if len(data) > 1 else []
        pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        max_line = rng.choice([1 << 20, 64, 200])
        fast = _decode_stream(pieces, max_line)
        monkeypatch.setattr(_ndjson, "_fast", None)
        standard = _decode_stream(pieces, max_line)
        monkeypatch.undo()
        assert fast == standard, (pieces, max_line)


# -- the standard-library path, as CI runs it too -------------------------------------------


@pytest.mark.timeout(300)
def test_a_subset_of_the_suite_passes_without_the_fast_library() -> None:
    env = {**os.environ, _json.PURE_ENV: "1"}
    tests = ["tests/core/test_json_codec.py", "tests/core/test_ndjson.py",
             "tests/core/test_transport.py", "tests/hardening/test_hostile_json.py",
             "tests/hardening/test_wire_stream.py", "tests/hardening/test_bodies.py",
             "tests/core/test_vectors.py"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         "-k", "not test_a_subset_of_the_suite", *tests],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=290)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
