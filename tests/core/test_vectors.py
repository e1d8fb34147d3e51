"""``embed(..., arrays=True)``: rows as ``array('d')``, exactly the list path's values or
its errors (``ollama_core._vectors``).

Over real sockets: the emulator (both clients, through the ``api`` fixture) and a
raw-socket server that answers whatever body a test gives it (``tests/hostile.py``). The
differential tests compare the two forms on many hostile bodies, with pysimdjson in use and
with it hidden; the suite also runs this file with ``OLLAMA_CORE_PURE_JSON=1``
(``test_json_codec``), where the fast parser is never used.
"""

from __future__ import annotations

import json
import math
import random
import struct
from array import array
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ollama_core import (
    DecodeError,
    EmbedArraysResponse,
    EmbedResponse,
    OllamaClient,
    SyncOllamaClient,
)
from ollama_core import _json, _vectors
from ollama_core._shapes import decode_body
from tests.core.conftest import Api
from tests.core.typecheck import mypy_strict
from tests.hostile import Conn, HostileServer, http_response

MODEL = "all-minilm:latest"
PURE = _json.pure()


@pytest.fixture(params=["pysimdjson", "without"])
def fast(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    """The fast parser in use, or hidden (as without pysimdjson installed)."""
    if request.param == "without":
        monkeypatch.setattr(_vectors, "_simdjson", None)
        yield False
        return
    if PURE:
        pytest.skip(f"{_json.PURE_ENV} is set: the fast parser is not used")
    pytest.importorskip("simdjson")
    assert _vectors.fast_parser() == "pysimdjson"
    yield True


class FastPathSpy:
    """Counts the bodies the fast path answered (so a test shows it was exercised)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answered = 0
        original = _vectors._fast

        def spy(simdjson: Any, raw: bytes) -> dict[str, Any] | None:
            value = original(simdjson, raw)
            self.answered += value is not None
            return value

        monkeypatch.setattr(_vectors, "_fast", spy)


def bits(values: Any) -> list[bytes]:
    """Each value as the 8 bytes of its double (tells -0.0 from 0.0, compares NaN)."""
    return [struct.pack("<d", float(v)) for v in values]


def doubles_of(rows: Any) -> list[list[bytes]] | None:
    """What ``arrays=True`` must give for the list path's rows, or ``None`` when a row of
    doubles cannot hold them (``arrays=True`` must then refuse, naming the field)."""
    if not isinstance(rows, list):
        return None
    out = []
    for row in rows:
        if not isinstance(row, list) or any(type(v) not in (int, float) for v in row):
            return None
        try:
            out.append(bits(row))
        except OverflowError:
            return None
    return out


# -- the emulator, both clients ------------------------------------------------------------


async def test_arrays_hold_the_list_paths_values_on_emulator_bodies(api: Api) -> None:
    texts = ["the first text", "another one", "é ✓ 日本"]
    lists = await api.call("embed", model=MODEL, input=texts)
    arrays = await api.call("embed", model=MODEL, input=texts, arrays=True)
    assert type(lists) is EmbedResponse and type(arrays) is EmbedArraysResponse
    assert all(type(row) is list for row in lists.embeddings)
    assert all(type(row) is array and row.typecode == "d" for row in arrays.embeddings)
    assert [bits(row) for row in arrays.embeddings] == [bits(row) for row in lists.embeddings]
    assert len(arrays.embeddings) == 3 and len(arrays.embeddings[0]) > 0
    assert (arrays.model, arrays.total_duration, arrays.load_duration,
            arrays.prompt_eval_count, arrays.extra) == (
        lists.model, lists.total_duration, lists.load_duration, lists.prompt_eval_count,
        lists.extra)
    # The request is the same on the wire; the default stays lists.
    sent = api.emulator.requests[-2:]
    assert sent[0].json == sent[1].json
    again = await api.call("embed", model=MODEL, input="x", arrays=False)
    assert type(again) is EmbedResponse and type(again.embeddings[0]) is list


async def test_to_dict_gives_the_wire_json_with_rows_as_lists(api: Api) -> None:
    texts = ["the first text", "another one"]
    lists = await api.call("embed", model=MODEL, input=texts)
    arrays = await api.call("embed", model=MODEL, input=texts, arrays=True)
    wire = arrays.to_dict()
    assert all(type(row) is list for row in wire["embeddings"])
    assert json.loads(json.dumps(wire)) == lists.to_dict()
    assert all(type(row) is array for row in arrays.embeddings)  # the response is unchanged


async def test_an_empty_input_gives_no_rows(api: Api) -> None:
    arrays = await api.call("embed", model=MODEL, input=[], arrays=True)
    assert arrays.embeddings == [] and type(arrays) is EmbedArraysResponse


async def test_bad_input_is_refused_before_sending_as_without_arrays(api: Api) -> None:
    from ollama_core import InvalidRequestError

    before = len(api.emulator.requests)
    with pytest.raises(InvalidRequestError) as info:
        await api.call("embed", model=MODEL, input=3, arrays=True)
    assert info.value.field == "input"
    assert len(api.emulator.requests) == before


# -- a raw-socket server answering the bodies a test gives it -------------------------------


class Bodies:
    """A loopback server answering every request with ``body`` (a 200, JSON)."""

    def __init__(self) -> None:
        self.body = b"{}"
        self.server = HostileServer(self._serve)

    async def _serve(self, conn: Conn) -> None:
        while await conn.read_request() is not None:
            await conn.send(http_response(200, self.body,
                                          headers={"Content-Type": "application/json"}))


@pytest.fixture
async def bodies() -> AsyncIterator[tuple[Bodies, OllamaClient]]:
    server = Bodies()
    async with server.server:
        async with OllamaClient(server.server.url, plugins=[]) as client:
            yield server, client


async def outcome(client: OllamaClient, arrays: bool) -> Any:
    try:
        if arrays:
            return await client.embed(model=MODEL, input="x", arrays=True)
        return await client.embed(model=MODEL, input="x")
    except Exception as exc:  # compared between the two forms
        return exc


def agree(raw: bytes, lists: Any, arrays: Any) -> str | None:
    """Why ``arrays`` is not what the list path's outcome ``lists`` demands, or ``None``."""
    if isinstance(lists, Exception):
        if type(arrays) is not type(lists) or str(arrays) != str(lists):
            return f"list path raised {lists!r}, arrays gave {arrays!r}"
        return None
    expected = doubles_of(lists.embeddings)
    if expected is None:
        if not isinstance(arrays, DecodeError) or "embeddings" not in str(arrays):
            return f"rows {lists.embeddings!r} cannot be doubles, arrays gave {arrays!r}"
        return None
    if isinstance(arrays, Exception):
        return f"list path gave {lists!r}, arrays raised {arrays!r}"
    if not all(type(row) is array and row.typecode == "d" for row in arrays.embeddings):
        return f"rows not arrays: {arrays.embeddings!r}"
    if [bits(row) for row in arrays.embeddings] != expected:
        return f"values differ: {arrays.embeddings!r} vs {lists.embeddings!r}"
    rest = (lists.model, lists.total_duration, lists.load_duration, lists.prompt_eval_count,
            lists.extra)
    got = (arrays.model, arrays.total_duration, arrays.load_duration,
           arrays.prompt_eval_count, arrays.extra)
    if repr(got) != repr(rest):  # repr: NaN in another field compares equal to itself
        return f"other fields differ: {got!r} vs {rest!r}"
    return None


EDGES = [
    b"0", b"-0", b"0.0", b"-0.0", b"1e-45", b"1.4e-45", b"5e-324", b"4.9e-324",
    b"2.2250738585072011e-308", b"2.2250738585072014e-308", b"3.4028235e+38",
    b"-3.4028235E38", b"1.7976931348623157e308", b"1e-400", b"1E5", b"1e+5", b"1e-5",
    b"0.030368093", b"-0.022116831", b"123456789", b"9007199254740993",
    b"18446744073709551615", b"-9223372036854775808", b"0.1000000000000000055511151231257827",
    b"123456789012345678e-10", b"7", b"-1",
]


async def test_edge_values_are_json_loads_doubles(
        bodies: tuple[Bodies, OllamaClient], fast: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server, client = bodies
    spy = FastPathSpy(monkeypatch)
    rows = [EDGES[:9], EDGES[9:18], EDGES[18:]]
    server.body = (b'{"model":"m","embeddings":[' +
                   b",".join(b"[" + b", ".join(row) + b"]" for row in rows) +
                   b'],"total_duration":5,"prompt_eval_count":3}')
    got = await client.embed(model=MODEL, input="x", arrays=True)
    reference = json.loads(server.body)["embeddings"]
    assert [bits(row) for row in got.embeddings] == [bits(row) for row in reference]
    assert got.embeddings[0][1] == 0.0 and math.copysign(1, got.embeddings[0][1]) == 1  # -0
    assert math.copysign(1, got.embeddings[0][3]) == -1  # -0.0
    assert got.embeddings[0][6] == 5e-324  # the smallest subnormal
    assert got.embeddings[1][1] == 3.4028235e38  # the largest float32, as a double
    assert (got.total_duration, got.prompt_eval_count) == (5, 3)
    assert spy.answered == (1 if fast else 0)
    assert agree(server.body, await outcome(client, False), got) is None


# -- hostile bodies: never more lenient, same values ----------------------------------------

NUMBERS = [b"0.5", b"-0.25", b"1", b"0", b"-0", b"1e-45", b"3.4028235e+38", b"0.030368093",
           b"12345678901234567890", b"-1.5E-3"]
HOSTILE = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"9" * 30, b"-" + b"9" * 25,
           b"true", b"false", b"null", b'"x"', b'"["', b"{}", b'{"a":1}', b"[1]", b"[]",
           b"[[2]]", b"[0.5,[1]]", b"01", b"1.", b".5", b"+1", b"0x10", b"\xff", b"\xed\xa0\x80"]
OTHER_FIELDS = [b'"model":"m"', b'"model":"a[b"', b'"model":"]"', b'"model":"\\ud800"',
                b'"model":"\\u005b"', b'"total_duration":12', b'"total_duration":-0',
                b'"load_duration":1e400', b'"prompt_eval_count":NaN', b'"x":[1,2]',
                b'"x":{"y":[]}', b'"x":{"k":1,"k":2}', b'"model":"t\x01ab"', b'"model":"\xe9"']


def random_body(rng: random.Random) -> bytes:
    """An embed answer with a few hostile parts: tokens in rows, nested arrays, duplicate
    keys, '[' in strings, non-JSON numbers, bad UTF-8; sometimes cut short."""
    def element() -> bytes:
        return rng.choice(HOSTILE) if rng.random() < 0.08 else rng.choice(NUMBERS)

    rows = []
    for _ in range(rng.randint(0, 4)):
        if rng.random() < 0.05:
            rows.append(rng.choice(HOSTILE))  # a row that is not an array
            continue
        space = rng.choice([b"", b" ", b"\n "])
        rows.append(b"[" + (b"," + space).join(element() for _ in range(rng.randint(0, 5)))
                    + b"]")
    vectors = b"[" + b",".join(rows) + b"]"
    if rng.random() < 0.04:
        vectors = rng.choice(HOSTILE)
    members = [b'"embeddings":' + vectors]
    members += rng.sample(OTHER_FIELDS, rng.randint(0, 3))
    if rng.random() < 0.1:  # a duplicate key, before or after
        members.insert(rng.randint(0, len(members)),
                       b'"embeddings":' + rng.choice([b"[[9]]", b"[]", b"null", b"[[1],[2]]"]))
    rng.shuffle(members)
    body = b"{" + b",".join(members) + b"}"
    roll = rng.random()
    if roll < 0.06:
        body = body[:rng.randrange(len(body))]  # truncated
    elif roll < 0.12:
        at = rng.randrange(len(body) + 1)
        body = body[:at] + rng.choice(HOSTILE + [b"]", b"[", b",", b'"', b"}"]) + body[at:]
    elif roll < 0.15:
        body = body + rng.choice([b" x", b"{}", b"\n\n", b"\x00"])
    return body


def _sync_outcome(decode: Callable[[], Any], kind: type[Any]) -> Any:
    try:
        return kind.from_dict(decode())
    except Exception as exc:
        return exc


@pytest.mark.timeout(120)
def test_decoding_random_hostile_bodies_is_the_list_path_or_stricter(
        fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = FastPathSpy(monkeypatch)
    rng = random.Random(13)
    refused = accepted = 0
    for _ in range(6000):
        raw = random_body(rng)
        lists = _sync_outcome(lambda: decode_body("embed", raw, "here"), EmbedResponse)
        arrays = _sync_outcome(lambda: _vectors.decode_arrays("embed", raw, "here"),
                               EmbedArraysResponse)
        assert agree(raw, lists, arrays) is None, (raw, agree(raw, lists, arrays))
        refused += isinstance(arrays, Exception) and not isinstance(lists, Exception)
        accepted += not isinstance(arrays, Exception)
    assert refused > 50  # rows a double cannot hold were met, and refused
    # Many accepted bodies took the fast path; the others hold what it defers (a '[' in
    # another field, NaN, huge integers, duplicate keys...).
    assert (spy.answered > accepted // 3) if fast else (spy.answered == 0), (
        spy.answered, accepted)


@pytest.mark.timeout(120)
async def test_hostile_bodies_over_a_socket_raise_exactly_when_the_list_path_does(
        bodies: tuple[Bodies, OllamaClient], fast: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server, client = bodies
    spy = FastPathSpy(monkeypatch)
    rng = random.Random(2026)
    seen = {"raised": 0, "refused": 0, "values": 0}
    for _ in range(300):
        server.body = random_body(rng)
        lists = await outcome(client, False)
        arrays = await outcome(client, True)
        assert agree(server.body, lists, arrays) is None, (server.body,
                                                           agree(server.body, lists, arrays))
        if isinstance(lists, Exception):
            seen["raised"] += 1
        elif isinstance(arrays, Exception):
            seen["refused"] += 1
        else:
            seen["values"] += 1
    assert min(seen.values()) > 10, seen
    assert (spy.answered > 50) if fast else (spy.answered == 0)


@pytest.mark.parametrize("raw, place", [
    (b'{"embeddings":[[0.5,"x"]]}', "embeddings[0][1] is a string"),
    (b'{"embeddings":[[0.5],[true]]}', "embeddings[1][0] is a boolean"),
    (b'{"embeddings":[[null]]}', "embeddings[0][0] is null"),
    (b'{"embeddings":[[0.5,[1]]]}', "embeddings[0][1] is an array"),
    (b'{"embeddings":[[[1]]]}', "embeddings[0][0] is an array"),
    (b'{"embeddings":[[{"a":1}]]}', "embeddings[0][0] is an object"),
    (b'{"embeddings":[1]}', "embeddings[0] is a number"),
    (b'{"embeddings":null}', "embeddings is null"),
    (b'{"embeddings":[[1' + b"0" * 400 + b']]}', "embeddings[0][0] is a number beyond"),
])
def test_a_value_a_row_of_doubles_cannot_hold_is_refused_naming_it(
        raw: bytes, place: str, fast: bool) -> None:
    EmbedResponse.from_dict(decode_body("embed", raw))  # the list path hands it on as it is
    with pytest.raises(DecodeError) as info:
        _vectors.decode_arrays("embed", raw, "http://h")
    assert f"embed: the answer from http://h's {place}" in str(info.value)
    assert info.value.endpoint == "embed" and info.value.excerpt


def test_what_only_json_loads_accepts_goes_its_way(fast: bool) -> None:
    raw = b'{"embeddings":[[NaN, 1e400, -Infinity, 1' + b"0" * 30 + b']],"model":"m"}'
    got = _vectors.decode_arrays("embed", raw)["embeddings"][0]
    assert math.isnan(got[0]) and got[1] == math.inf and got[2] == -math.inf
    assert got[3] == float(10 ** 30)


# -- the parser --------------------------------------------------------------------------------


def test_a_refused_body_leaves_the_parser_usable(monkeypatch: pytest.MonkeyPatch,
                                                 fast: bool) -> None:
    spy = FastPathSpy(monkeypatch)
    good = b'{"embeddings":[[0.25,0.5]]}'
    for bad in (b'{"embeddings":[[0.5,"x"]]}', b'{"embeddings":[[1],[true]]}', b'{"a":',
                b'{"embeddings":[[0.5,[1]]]}'):
        with pytest.raises(DecodeError):
            _vectors.decode_arrays("embed", bad)
        assert _vectors.decode_arrays("embed", good)["embeddings"] == [array("d", [0.25, 0.5])]
    assert spy.answered == (4 if fast else 0)  # each good one


def test_threads_each_parse_with_their_own_parser(fast: bool) -> None:
    rng = random.Random(5)
    bodies = []
    for i in range(40):
        rows = [[rng.uniform(-1, 1) for _ in range(64)] for _ in range(1 + i % 5)]
        bodies.append((json.dumps({"model": str(i), "embeddings": rows}).encode(), rows))

    def work(item: tuple[bytes, list[list[float]]]) -> bool:
        raw, rows = item
        got = _vectors.decode_arrays("embed", raw)["embeddings"]
        return [row.tolist() for row in got] == rows

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, bodies * 10))


def test_a_body_over_the_reuse_limit_gets_a_parser_of_its_own(
        monkeypatch: pytest.MonkeyPatch, fast: bool) -> None:
    small = b'{"embeddings":[[1.5]]}'
    _vectors.decode_arrays("embed", small)
    kept = getattr(_vectors._local, "parser", None)
    monkeypatch.setattr(_vectors, "REUSE_LIMIT", 64)
    big = json.dumps({"embeddings": [[0.125] * 40]}).encode()
    assert _vectors.decode_arrays("embed", big)["embeddings"][0].tolist() == [0.125] * 40
    assert getattr(_vectors._local, "parser", None) is kept


# -- both clients: same signature, typed results ------------------------------------------


def test_the_sync_client_returns_arrays_too(emulator_thread: Any) -> None:
    with SyncOllamaClient(emulator_thread.url, plugins=[]) as client:
        got = client.embed(model=MODEL, input=["a", "b"], arrays=True)
        plain = client.embed(model=MODEL, input=["a", "b"])
    assert type(got) is EmbedArraysResponse
    assert [row.tolist() for row in got.embeddings] == plain.embeddings


_TYPED = '''
from array import array
from ollama_core import EmbedArraysResponse, EmbedResponse, OllamaClient, SyncOllamaClient

async def use(c: OllamaClient, s: SyncOllamaClient, flag: bool) -> None:
    a: EmbedArraysResponse = await c.embed(model="m", input="x", arrays=True)
    row: array[float] = a.embeddings[0]
    b: EmbedResponse = await c.embed(model="m", input="x")
    plain: list[float] = b.embeddings[0]
    d: EmbedResponse = await c.embed(model="m", input="x", arrays=False)
    e: EmbedResponse | EmbedArraysResponse = await c.embed(model="m", input="x", arrays=flag)
    f: EmbedArraysResponse = s.embed(model="m", input="x", arrays=True)
    g: EmbedResponse = s.embed({"model": "m", "input": "x"})
'''

_TYPED_WRONG = '''
from array import array
from ollama_core import EmbedArraysResponse, EmbedResponse, OllamaClient

async def wrong(c: OllamaClient) -> None:
    a: EmbedResponse = await c.embed(model="m", input="x", arrays=True)
    b: list[float] = (await c.embed(model="m", input="x", arrays=True)).embeddings[0]
    d: array[float] = (await c.embed(model="m", input="x")).embeddings[0]
'''


@pytest.mark.timeout(300)
def test_mypy_strict_types_each_form(tmp_path: Path) -> None:
    out, errors = mypy_strict(tmp_path, _TYPED, _TYPED_WRONG)
    assert all("wrong.py" in line for line in errors), out
    assert [line.split(":")[1] for line in errors] == ["6", "7", "8"], out
    assert "EmbedArraysResponse" in errors[0] and "array[float]" in errors[1], out

