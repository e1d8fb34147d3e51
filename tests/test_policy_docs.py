"""Each plugin's policy is written down once, and the README links to it.

The rule: the policy text of a built-in plugin is the module docstring of
``plugins/<name>/_plugin.py``, the module that defines the plugin class. Its settings and
their defaults are declared once, in its config class; prose (the README, the policy
text, ``_config.py`` docstrings) names the keys but does not restate their default values.
The README's plugin table says in one line what each plugin does and links to the policy.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest

from ollama_core import BUILTIN_PLUGINS, available_plugins
from ollama_core.ext import Plugin, describe_settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def plugin_class(name: str) -> type[Plugin]:  # type: ignore[type-arg]
    cls = available_plugins()[name].load()
    assert isinstance(cls, type) and issubclass(cls, Plugin)
    return cls


def policy_module(name: str) -> ModuleType:
    return importlib.import_module(f"ollama_plugins.{name}._plugin")


def table_cells() -> dict[str, str]:
    """The "what it does" cell of each row of the README's plugin table, by plugin."""
    lines = README.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("| plugin |") and "what it does" in line)
    column = [c.strip() for c in lines[start].strip("|").split("|")].index("what it does")
    cells: dict[str, str] = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        row = [c.strip() for c in line.strip().strip("|").split(" | ")]
        cells[row[0].strip("`")] = row[column]
    return cells


def table_span() -> tuple[int, int]:
    start = README.index("| plugin | what it does |")
    end = README.index("\n\n", start)
    return start, end


# -- the links ------------------------------------------------------------------------------


def test_every_builtin_plugin_has_a_row() -> None:
    assert sorted(table_cells()) == sorted(BUILTIN_PLUGINS)


@pytest.mark.parametrize("name", BUILTIN_PLUGINS)
def test_the_row_is_one_line_and_links_the_policy_module(name: str) -> None:
    cell = table_cells()[name]
    target = f"plugins/{name}/_plugin.py"
    assert f"the policy: [`{target}`]({target})" in cell
    summary = cell.split("; the policy:")[0]
    # One line of summary: the rest of the policy is in the linked text, not copied here.
    assert len(summary) <= 120 and "](" not in summary, summary


@pytest.mark.parametrize("name", BUILTIN_PLUGINS)
def test_the_policy_module_defines_the_plugin_and_its_docstring_is_the_policy(
        name: str) -> None:
    cls = plugin_class(name)
    module = policy_module(name)
    assert cls.__module__ == module.__name__
    assert module.__file__ is not None
    assert Path(module.__file__).resolve() == (ROOT / "plugins" / name / "_plugin.py").resolve()
    doc = module.__doc__ or ""
    assert len(doc.splitlines()) >= 15 and len(doc) >= 1000, f"{name}: policy text too short"
    # The policy text explains every declared setting (by its key).
    keys = [f.name for f in dataclasses.fields(cls.config_class)]  # type: ignore[arg-type]
    assert [k for k in keys if f"``{k}``" not in doc] == []


def test_every_readme_link_into_the_repository_resolves() -> None:
    targets = [t for t in LINK.findall(README) if "://" not in t and not t.startswith("#")]
    assert any(t.startswith("plugins/") for t in targets)
    missing = [t for t in targets if not (ROOT / t.split("#")[0]).exists()]
    assert missing == []


# -- no default restated --------------------------------------------------------------------

#: "default 30", "(default ``10.0``)", "default: none", "defaults to 5", "[5]" after a key.
_DEFAULT_VALUE = re.compile(
    r"\bdefaults?\b(?: is| of| to)?[\s:]*[`\"\[(]*(?:-?\d|none\b|null\b|true\b|false\b|"
    r"all\b|one\b)"
    r"|``\w+``\s*\[[^\]]*\d[^\]]*\]", re.I)


def restated_defaults(text: str) -> list[str]:
    return [m.group(0) for m in _DEFAULT_VALUE.finditer(text)]


def test_the_default_check_itself() -> None:
    assert restated_defaults("``rate`` (default ``10.0``)") != []
    assert restated_defaults("``timeout`` seconds (default ``None``).") != []
    assert restated_defaults("``tools`` (default: none).") != []
    assert restated_defaults("``fail_max`` [5], ``reset_timeout`` [30 s]") != []
    assert restated_defaults("max_attempts defaults to 3") != []
    assert restated_defaults("declared with their defaults in ``RetryConfig``") == []
    assert restated_defaults("by default those with deterministic answers") == []


@pytest.mark.parametrize("name", BUILTIN_PLUGINS)
def test_policy_text_and_config_docstrings_do_not_restate_defaults(name: str) -> None:
    """Every module docstring of the plugin's package (the policy text, ``_config.py``,
    the rest), and the docstrings of the plugin and config classes."""
    texts = {}
    for path in sorted((ROOT / "plugins" / name).glob("*.py")):
        texts[path.name] = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert texts["_plugin.py"] == inspect.cleandoc(policy_module(name).__doc__ or "")
    cls = plugin_class(name)
    texts[cls.__name__] = cls.__doc__ or ""
    texts[cls.config_class.__name__] = cls.config_class.__doc__ or ""
    found = {where: restated_defaults(text) for where, text in texts.items()}
    assert {where: hits for where, hits in found.items() if hits} == {}


def readme_prose() -> str:
    """The README without fenced code and without the plugin table (checked elsewhere)."""
    start, end = table_span()
    text = README[:start] + README[end:]
    return re.sub(r"```.*?```", "", text, flags=re.S)


def wrong_defaults_in(prose: str, declared: dict[str, set[str]]) -> list[str]:
    """Sentences that name a plugin setting and a default that is not its declared one."""
    wrong = []
    for sentence in re.split(r"(?<=[.;])\s+", prose):
        if not re.search(r"\bdefault", sentence, re.I):
            continue
        for key in re.findall(r"`([a-z_]+)`", sentence):
            if key in declared and not any(text in sentence for text in declared[key]):
                wrong.append(f"`{key}`: {sentence.strip()}")
    return wrong


def declared_defaults() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for name in BUILTIN_PLUGINS:
        for info in describe_settings(plugin_class(name).config_class):
            texts = out.setdefault(info.key, set())
            texts.add(info.default_text)
            if isinstance(info.default, (int, float)) and not isinstance(info.default, bool):
                texts.add(f"{info.default:g}")
    return out


def test_the_readme_prose_check_itself() -> None:
    declared = {"cooldown": {"30 s", "30"}}
    assert wrong_defaults_in("The `cooldown` defaults to 60 s.", declared) != []
    assert wrong_defaults_in("The `cooldown` defaults to 30 s.", declared) == []
    assert wrong_defaults_in("The `cooldown` is how long a server rests.", declared) == []


def test_readme_prose_restates_no_default_that_differs_from_the_declaration() -> None:
    assert wrong_defaults_in(readme_prose(), declared_defaults()) == []
