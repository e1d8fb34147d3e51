"""Docstring parsing for tool descriptions: the summary and one description per argument.

Three argument-section styles are understood, because all three are common in the wild:

* Google: an ``Args:`` (or ``Arguments:``, ``Parameters:``, ``Attributes:``, ``Keyword Args:``)
  header followed by indented ``name (type): text`` or ``name: text`` entries;
* NumPy: a ``Parameters`` (or ``Attributes``, ``Other Parameters``) header underlined with
  dashes, followed by ``name : type`` lines and indented text (``x, y : int`` names two);
* Sphinx: ``:param name: text`` / ``:param type name: text`` fields.

Continuation lines are joined with single spaces: the text goes into a JSON Schema
``description`` read by a model, where the docstring's line wrapping means nothing.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

__all__ = ["ParsedDocstring", "parse_docstring"]

_GOOGLE_HEADER = re.compile(
    r"^(\s*)(?:Args|Arguments|Parameters|Params|Attributes|Keyword Args|Keyword Arguments"
    r"|Other Parameters)\s*:\s*$"
)
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:(.*)$")
_NUMPY_HEADER = re.compile(r"^\s*(?:Parameters|Attributes|Other Parameters|Keyword Arguments)\s*$")
_NUMPY_ENTRY = re.compile(r"^(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::.*)?$")
_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_SPHINX_PARAM = re.compile(r"^\s*:param\s+(?:[^:]*\s)?\*{0,2}(\w+)\s*:(.*)$")


@dataclass(slots=True)
class ParsedDocstring:
    """What a tool needs from a docstring."""

    #: The first paragraph, on one line ("" when the docstring starts with a section).
    summary: str = ""
    #: Argument name (without ``*``) to its description.
    params: dict[str, str] = field(default_factory=dict)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _join(parts: list[str]) -> str:
    return " ".join(" ".join(parts).split())


def _is_section_start(lines: list[str], i: int) -> bool:
    """Whether line ``i`` opens a section of any of the three styles."""
    line = lines[i]
    if _GOOGLE_HEADER.match(line) or line.lstrip().startswith(":"):
        return True
    if re.match(r"^\s*[A-Z][A-Za-z ]*:\s*$", line):  # Returns:, Raises:, Example:, ...
        return True
    return i + 1 < len(lines) and bool(_UNDERLINE.match(lines[i + 1])) and bool(line.strip())


def _summary(lines: list[str]) -> str:
    parts: list[str] = []
    for i, line in enumerate(lines):
        if not line.strip() or _is_section_start(lines, i):
            break
        parts.append(line)
    return _join(parts)


def _google(lines: list[str], out: dict[str, str]) -> None:
    i = 0
    while i < len(lines):
        header = _GOOGLE_HEADER.match(lines[i])
        i += 1
        if not header:
            continue
        base = len(header.group(1))
        entry_indent: int | None = None
        name: str | None = None
        current: list[str] = []
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line.strip():
                continue
            indent = _indent(line)
            if indent <= base:
                i -= 1  # the next section: let the outer loop look at it
                break
            if entry_indent is None:
                entry_indent = indent
            match = _GOOGLE_ENTRY.match(line.strip()) if indent == entry_indent else None
            if match:
                name, current = match.group(1), [match.group(2)]
            elif name is not None and indent > entry_indent:
                current.append(line)
            else:
                continue
            out[name] = _join(current)


def _numpy(lines: list[str], out: dict[str, str]) -> None:
    i = 0
    while i + 1 < len(lines):
        if not (_NUMPY_HEADER.match(lines[i]) and _UNDERLINE.match(lines[i + 1])):
            i += 1
            continue
        base = _indent(lines[i])
        i += 2
        names: list[str] = []
        current: list[str] = []
        while i < len(lines):
            line = lines[i]
            if i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1]) and line.strip():
                break  # the next section's header
            if line.strip():
                indent = _indent(line)
                entry = _NUMPY_ENTRY.match(line.strip()) if indent <= base else None
                if entry:
                    names = [n.strip().lstrip("*") for n in entry.group(1).split(",")]
                    current = []
                elif indent <= base:
                    break
                else:
                    current.append(line)
                for name in names:
                    out[name] = _join(current)
            i += 1


def _sphinx(lines: list[str], out: dict[str, str]) -> None:
    name: str | None = None
    current: list[str] = []
    for line in lines:
        match = _SPHINX_PARAM.match(line)
        if match:
            name, current = match.group(1), [match.group(2)]
        elif name is not None and line.strip() and _indent(line) > 0:
            current.append(line)
        else:
            name = None
            continue
        out[name] = _join(current)


def parse_docstring(doc: str | None) -> ParsedDocstring:
    """Split a docstring into its summary and per-argument descriptions.

    Args:
        doc: the raw docstring (``None`` gives an empty result).

    Returns:
        The summary (first paragraph, whitespace collapsed) and the argument
        descriptions found in Google, NumPy or Sphinx sections.
    """
    if not doc:
        return ParsedDocstring()
    lines = inspect.cleandoc(doc).splitlines()
    params: dict[str, str] = {}
    _sphinx(lines, params)
    _numpy(lines, params)
    _google(lines, params)
    return ParsedDocstring(summary=_summary(lines), params=params)
