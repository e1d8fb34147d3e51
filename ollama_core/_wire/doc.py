"""The table of every wire field, generated from the declarations.

``python -m ollama_core._wire.doc > docs/wire-fields.md`` writes it; a test fails when the
committed file differs from what this prints.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._decl import DECLARED, Request, Wire

HEADER = """\
# Wire fields

Every JSON object ollama-core sends or reads, field by field, generated from the
declarations in `ollama_core/_wire/` and `ollama_core/_types.py` (do not edit by hand;
regenerate with `python -m ollama_core._wire.doc > docs/wire-fields.md`).

Keys not listed are kept: sent from a request's `extra`, read into a response's `extra`.
*Required* keys must be present and not null; the others may be left out. *Setter* is the
builder step generated for the field (requests only; a hand-written step of the same name
takes its place).
"""


def _cell(text: str) -> str:
    # docstrings are reStructuredText: ``x`` is `x` in Markdown
    return text.replace("``", "`").replace("|", "\\|").replace("\n", " ")


def render_class(cls: type[Wire]) -> str:
    """The section of one declared class."""
    title = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
    is_request = issubclass(cls, Request)
    kind = f" (request `{cls._KIND}`)" if issubclass(cls, Request) and cls._KIND else ""
    # Objects sent to the server are validated (their fields have checks); responses are not.
    validated = is_request or any(
        info.required or info.decl.check is not None for info in cls.__wire_fields__)
    head = ["Key", "Attribute", "Type"]
    if validated:
        head.append("Required")
    if is_request:
        head.append("Setter")
    head.append("Meaning")
    lines = [f"## {cls.__name__}{kind}", "", _cell(title), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for info in cls.__wire_fields__:
        attr = f"`{info.attr}`" if info.attr != info.key else ""
        cells = [f"`{info.key}`", attr, f"`{_cell(info.type)}`"]
        if validated:
            cells.append("yes" if info.required else "")
        if is_request:
            cells.append(f"`.{info.attr}()`" if info.setter else "")
        cells.append(_cell(info.doc))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def public_classes() -> list[type[Wire]]:
    """The declared classes of the package itself, in declaration order."""
    from .. import _types  # noqa: F401 - imports every declaration

    return [cls for cls in DECLARED
            if cls.__module__.startswith("ollama_core.") and not cls.__name__.startswith("_")]


def render(classes: Iterable[type[Wire]] | None = None) -> str:
    """The whole document (of ``classes``, by default every public declared class)."""
    chosen = public_classes() if classes is None else list(classes)
    return HEADER + "".join("\n" + render_class(cls) for cls in chosen)


if __name__ == "__main__":
    print(render(), end="")
