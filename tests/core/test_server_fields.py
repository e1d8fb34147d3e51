"""Every field of the server's request and response types is a typed, declared attribute
(``server_fields.py`` lists them with their source)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import ollama_core._types as types
from ollama_core._wire._decl import Wire

from .server_fields import EXCLUDED, GO, GO_STRUCTS, NOT_SPOKEN, SERVER_FIELDS

MIRROR = Path("/work/.mirror/ollama+ollama/repo")


@pytest.mark.parametrize("name", sorted(SERVER_FIELDS))
def test_every_server_field_is_a_typed_declared_attribute(name: str) -> None:
    cls = getattr(types, name)
    assert issubclass(cls, Wire)
    declared = {info.key: info for info in cls.__wire_fields__}
    _, wire_names = SERVER_FIELDS[name]
    missing = [key for key in wire_names if key not in declared]
    assert missing == [], f"{name} lacks {missing}"
    for key in wire_names:
        info = declared[key]
        assert info.type and info.type != "Any" or key == "items", (name, key, info.type)
        assert info.attr in cls.__dataclass_fields__


def test_excluded_fields_are_really_left_out() -> None:
    for (name, key), reason in EXCLUDED.items():
        cls = getattr(types, name)
        assert reason and key not in {info.key for info in cls.__wire_fields__}


def _go_structs(source: str) -> dict[str, list[str]]:
    """Go struct name -> its lines (between ``type X struct {`` and the closing ``}``)."""
    out: dict[str, list[str]] = {}
    for match in re.finditer(r"^type (\w+) struct \{\n(.*?)^\}", source, re.M | re.S):
        out[match.group(1)] = match.group(2).splitlines()
    return out


def _json_names(structs: dict[str, list[str]], name: str) -> set[str]:
    names: set[str] = set()
    for line in structs[name]:
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        tag = re.search(r'json:"([^",]*)', line)
        if tag:
            if tag.group(1) != "-":
                names.add(tag.group(1))
        elif re.fullmatch(r"\*?(\w+)", line.split("//")[0].strip()):
            names |= _json_names(structs, line.strip().lstrip("*"))  # embedded struct
    return names


def _go_source() -> str:
    if not MIRROR.exists():
        pytest.skip("the ollama/ollama source is not mirrored on this machine")
    return subprocess.run(["git", "-C", str(MIRROR), "show", "fb30760:api/types.go"],
                          check=True, capture_output=True, text=True).stdout


def test_the_list_is_the_go_structs_fields() -> None:
    structs = _go_structs(_go_source())
    for name, (source, wire_names) in SERVER_FIELDS.items():
        if source != GO:
            continue
        go: set[str] = set()
        for struct in GO_STRUCTS.get(name, (name,)):
            go |= _json_names(structs, struct)
        excluded = {key for (cls, key) in EXCLUDED if cls == name}
        assert go - excluded == set(wire_names), (name, (go - excluded) ^ set(wire_names))


def test_every_request_and_response_struct_is_covered() -> None:
    structs = _go_structs(_go_source())
    covered = {s for name in SERVER_FIELDS for s in GO_STRUCTS.get(name, (name,))}
    api_structs = {s for s in structs
                   if s.endswith(("Request", "Response", "Result", "Status", "Info", "Details",
                                  "Recommendation", "Logprob", "Message", "Tensor", "Options",
                                  "Metrics", "Runner", "Error", "Tool", "ToolCall",
                                  "ToolFunction", "ToolCallFunction", "Parameters",
                                  "Property"))}
    assert api_structs - covered - set(NOT_SPOKEN) == set()
