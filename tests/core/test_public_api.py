"""The public surface: sorted ``__all__``, private modules behind it, typed package."""

from __future__ import annotations

import pathlib

import ollama_core


def test_all_is_sorted_unique_and_importable() -> None:
    names = ollama_core.__all__
    assert len(names) == len(set(names))
    assert sorted(names, key=str.lower) == sorted(names, key=str.lower)
    for name in names:
        assert hasattr(ollama_core, name), name


def test_every_public_object_is_exported() -> None:
    exported = set(ollama_core.__all__)
    public = {n for n in vars(ollama_core) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(ollama_core, n)).__name__ == "module"}
    assert public - modules - {"annotations"} <= exported


def test_package_is_typed() -> None:
    assert (pathlib.Path(ollama_core.__file__).parent / "py.typed").exists()


def test_import_builds_no_client() -> None:
    # A global client built at import time breaks `import` under odd proxy settings.
    assert not any(isinstance(v, ollama_core.OllamaClient) for v in vars(ollama_core).values())
