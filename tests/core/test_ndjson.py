"""The NDJSON decoder's edge cases (pure; the transport feeds it whatever the socket gives)."""

from __future__ import annotations

import json

import pytest

from ollama_core import LineTooLongError, MalformedLineError, NDJSONDecoder


def decode_all(pieces: list[bytes], max_line_length: int = 1 << 20) -> list[dict[str, object]]:
    decoder = NDJSONDecoder(max_line_length)
    out: list[dict[str, object]] = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    out.extend(decoder.close())
    return out


LINES = [{"i": i, "text": f"chunk {i} ünïcødé ✓ 日本"} for i in range(5)]
PAYLOAD = b"".join(json.dumps(x, ensure_ascii=False).encode() + b"\n" for x in LINES)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(PAYLOAD)])
def test_any_split_gives_the_same_lines(size: int) -> None:
    # Every split point, including inside multi-byte UTF-8 sequences.
    pieces = [PAYLOAD[i:i + size] for i in range(0, len(PAYLOAD), size)]
    assert decode_all(pieces) == LINES


def test_blank_and_whitespace_lines_are_skipped() -> None:
    assert decode_all([b'\n\n{"a": 1}\n  \n\r\n{"b": 2}\n\n']) == [{"a": 1}, {"b": 2}]


def test_crlf_line_endings() -> None:
    assert decode_all([b'{"a": 1}\r\n{"b": 2}\r\n']) == [{"a": 1}, {"b": 2}]


def test_last_line_without_newline() -> None:
    assert decode_all([b'{"a": 1}\n{"done": tr', b"ue}"]) == [{"a": 1}, {"done": True}]


def test_malformed_line_reports_number_and_excerpt() -> None:
    decoder = NDJSONDecoder()
    with pytest.raises(MalformedLineError) as info:
        list(decoder.feed(b'{"a": 1}\n\n{"model": broken\n'))
    assert info.value.line_number == 3
    assert info.value.excerpt == '{"model": broken'
    assert "line 3" in str(info.value)


def test_excerpt_is_bounded() -> None:
    with pytest.raises(MalformedLineError) as info:
        decode_all([b"x" * 5000 + b"\n"])
    assert len(info.value.excerpt) == 200


def test_non_object_json_is_malformed() -> None:
    with pytest.raises(MalformedLineError, match="not a JSON object"):
        decode_all([b"[1, 2]\n"])


def test_invalid_utf8_is_malformed_not_a_crash() -> None:
    with pytest.raises(MalformedLineError):
        decode_all([b'{"a": "\xff\xfe"}\n'])


@pytest.mark.parametrize("pieces", [
    [b"x" * 101],                       # no newline yet, buffer already too long
    [b"x" * 60, b"x" * 60],             # grows past the bound across reads
    [b"x" * 150 + b"\n"],               # a complete line that is too long
    [b'{"a":1}\n' + b"x" * 150],        # the incomplete tail after a newline
])
def test_line_length_bound(pieces: list[bytes]) -> None:
    with pytest.raises(LineTooLongError) as info:
        decode_all(pieces, max_line_length=100)
    assert info.value.limit == 100


def test_a_line_at_the_bound_is_fine() -> None:
    line = json.dumps({"t": "x" * 90}).encode()
    assert len(line) <= 100
    assert decode_all([line[:50], line[50:] + b"\n"], max_line_length=100) == [{"t": "x" * 90}]
