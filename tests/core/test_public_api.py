"""The public surface: sorted ``__all__``, private modules behind it, typed package."""

from __future__ import annotations

import inspect
import pathlib
import types

import pytest

import ollama_core
from ollama_core import _exceptions


def public_api_problems(names: list[str], package: object,
                        exceptions: types.ModuleType) -> list[str]:
    """What is wrong with ``names`` as the ``__all__`` of ``package`` (empty: nothing).

    Checked by structure, not against a frozen list, so that adding a public name is one
    edit: sorted (plain ``sorted``, as written), unique, every name resolving, and every
    public exception class of ``exceptions`` both listed in its own ``__all__`` and exported.
    """
    problems = []
    if list(names) != sorted(names):
        problems.append(f"not sorted: first out of place is {_first_unsorted(names)!r}")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"listed twice: {duplicates}")
    problems += [f"does not resolve: {n!r}" for n in names if not hasattr(package, n)]
    classes = {
        name for name, obj in vars(exceptions).items()
        if inspect.isclass(obj) and issubclass(obj, BaseException)
        and obj.__module__ == exceptions.__name__ and not name.startswith("_")
    }
    problems += [f"exception class missing from _exceptions.__all__: {n!r}"
                 for n in sorted(classes - set(exceptions.__all__))]
    problems += [f"exception class not exported: {n!r}"
                 for n in sorted(classes - set(names))]
    return problems


def _first_unsorted(names: list[str]) -> str:
    return next(a for a, b in zip(names, sorted(names), strict=True) if a != b)


def test_all_is_sorted_unique_and_importable() -> None:
    assert public_api_problems(ollama_core.__all__, ollama_core, _exceptions) == []
    assert len(ollama_core.__all__) > 50  # the check saw the real list
    assert {"OllamaError", "ResponseError", "StreamError"} <= set(ollama_core.__all__)


def _swap_adjacent(names: list[str]) -> list[str]:
    out = list(names)
    i = len(out) // 2
    out[i], out[i + 1] = out[i + 1], out[i]
    return out


def _drop_an_exception(names: list[str]) -> list[str]:
    return [n for n in names if n != "StreamErrorLine"]


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (_swap_adjacent, "not sorted"),
        (lambda names: sorted(names, key=str.lower), "not sorted"),
        (lambda names: sorted([*names, names[3]]), "listed twice"),
        (lambda names: sorted([*names, "NoSuchThing"]), "does not resolve: 'NoSuchThing'"),
        (_drop_an_exception, "exception class not exported: 'StreamErrorLine'"),
    ],
)
def test_the_check_catches_a_real_mistake(mutate: object, problem: str) -> None:
    assert callable(mutate)
    names = list(mutate(list(ollama_core.__all__)))
    assert names != ollama_core.__all__
    found = public_api_problems(names, ollama_core, _exceptions)
    assert any(problem in p for p in found), found


def test_the_check_catches_an_exception_class_missing_everywhere() -> None:
    # A copy of _exceptions with one more class, as if it were added and forgotten.
    fake = types.ModuleType(_exceptions.__name__)
    fake.__dict__.update(vars(_exceptions))
    new_error = type("NewError", (_exceptions.OllamaError,), {"__module__": fake.__name__})
    fake.__dict__["_PrivateError"] = new_error  # private: not part of the API
    assert public_api_problems(ollama_core.__all__, ollama_core, fake) == []
    fake.__dict__["NewError"] = new_error
    assert public_api_problems(ollama_core.__all__, ollama_core, fake) == [
        "exception class missing from _exceptions.__all__: 'NewError'",
        "exception class not exported: 'NewError'",
    ]
