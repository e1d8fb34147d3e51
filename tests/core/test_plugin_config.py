"""Plugin configuration declared once: the shared parser, its one error format, the plugin
base class, and the README's table of keys and defaults checked against the declarations
of every built-in plugin."""

from __future__ import annotations

import dataclasses
import math
import pathlib
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import pytest

from ollama_core import (
    BUILTIN_PLUGINS,
    Event,
    FakeClock,
    InvalidConfigError,
    OllamaClient,
    PluginConfigError,
    available_plugins,
)
from ollama_core.ext import (
    ConfigValueError,
    NoConfig,
    Plugin,
    PluginConfig,
    describe_settings,
    hookimpl,
    parse_config,
    setting,
)

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


@dataclasses.dataclass(frozen=True, slots=True)
class Limits(PluginConfig):
    rate: float | None = setting(10.0, above=0, unit="/s")
    burst: int = setting(1, minimum=1)


@dataclasses.dataclass(frozen=True, slots=True)
class Sample(PluginConfig):
    attempts: int = setting(3, minimum=1, maximum=10)
    delay: float = setting(0.5, minimum=0, unit="s")
    mode: Literal["full", "none"] = "full"
    deadline: float | None = setting(None, above=0)
    enabled: bool = False
    label: str = "x"
    statuses: frozenset[int] = setting(frozenset({503, 429}))
    paths: tuple[str, ...] = ()
    tags: list[str] = setting(["a"])
    endpoints: dict[str, Limits] = setting({})
    limits: Limits = setting(default_factory=Limits)
    anything: Any = None

    def validate(self) -> None:
        if self.deadline is not None and self.deadline < self.delay:
            raise ConfigValueError("deadline", "must be at least delay")


def parse(raw: Any) -> Sample:
    return parse_config(Sample, raw, plugin="sample")


# -- the parser -----------------------------------------------------------------------------


def test_defaults_come_from_the_declaration_and_values_are_typed() -> None:
    cfg = parse({})
    assert cfg == Sample() and parse(None) == cfg
    assert (cfg.attempts, cfg.delay, cfg.mode, cfg.deadline) == (3, 0.5, "full", None)
    cfg = parse({"delay": 2, "statuses": [500, 500], "paths": ["p"], "deadline": 3,
                 "endpoints": {"chat": {"rate": 2}}, "limits": {"burst": 4}})
    assert cfg.delay == 2.0 and isinstance(cfg.delay, float)
    assert cfg.statuses == frozenset({500}) and cfg.paths == ("p",)
    assert cfg.endpoints == {"chat": Limits(rate=2.0)} and cfg.limits == Limits(burst=4)


def test_mutable_defaults_are_not_shared() -> None:
    a, b = parse({}), parse({})
    a.tags.append("changed")
    assert b.tags == ["a"] and Sample().tags == ["a"]


@pytest.mark.parametrize(("raw", "key", "message"), [
    ({"attempts": 0}, "attempts", "attempts: must be at least 1, got 0"),
    ({"attempts": 11}, "attempts", "attempts: must be at most 10, got 11"),
    ({"attempts": 2.0}, "attempts", "attempts: must be an integer, got 2.0"),
    ({"attempts": True}, "attempts", "attempts: must be an integer, got True"),
    ({"delay": -1}, "delay", "delay: must be at least 0, got -1"),
    ({"delay": "1"}, "delay", "delay: must be a number, got '1'"),
    ({"delay": math.nan}, "delay", "delay: must be a number, got nan"),
    ({"delay": math.inf}, "delay", "delay: must be a number, got inf"),
    ({"delay": False}, "delay", "delay: must be a number, got False"),
    ({"delay": None}, "delay", "delay: must be a number, got null"),
    ({"mode": "half"}, "mode", "mode: must be one of 'full', 'none', got 'half'"),
    ({"deadline": 0}, "deadline", "deadline: must be greater than 0, got 0"),
    ({"deadline": "x"}, "deadline", "deadline: must be a number or null, got 'x'"),
    ({"deadline": 0.1}, "deadline", "deadline: must be at least delay"),
    ({"enabled": 1}, "enabled", "enabled: must be true or false, got 1"),
    ({"label": 3}, "label", "label: must be a string, got 3"),
    ({"statuses": "503"}, "statuses", "statuses: must be a list, got '503'"),
    ({"statuses": [503, "x"]}, "statuses[1]", "statuses[1]: must be an integer, got 'x'"),
    ({"endpoints": []}, "endpoints", "endpoints: must be a mapping, got []"),
    ({"endpoints": {"chat": {"rate": -1}}}, "endpoints.chat.rate",
     "endpoints.chat.rate: must be greater than 0, got -1"),
    ({"endpoints": {"chat": 5}}, "endpoints.chat", "endpoints.chat: must be a mapping, got int"),
    ({"limits": {"burst": 0}}, "limits.burst", "limits.burst: must be at least 1, got 0"),
])
def test_one_error_format_naming_the_plugin_and_the_key(raw: dict[str, Any], key: str,
                                                        message: str) -> None:
    with pytest.raises(PluginConfigError) as info:
        parse(raw)
    assert str(info.value) == f"plugin 'sample': {message}"
    assert info.value.plugin == "sample" and info.value.key == key
    assert isinstance(info.value, InvalidConfigError)


@pytest.mark.parametrize(("raw", "key", "known"), [
    ({"atempts": 1}, "atempts", "anything, attempts, deadline, delay, enabled, endpoints, "
                                "label, limits, mode, paths, statuses, tags"),
    ({"endpoints": {"chat": {"rat": 1}}}, "endpoints.chat.rat", "burst, rate"),
    ({"limits": {"x": 1}}, "limits.x", "burst, rate"),
])
def test_unknown_keys_are_rejected_the_same_way_at_every_depth(raw: dict[str, Any], key: str,
                                                               known: str) -> None:
    with pytest.raises(PluginConfigError) as info:
        parse(raw)
    assert str(info.value) == f"plugin 'sample': unknown key {key!r} (known: {known})"
    assert info.value.key == key


def test_a_section_that_is_not_a_mapping() -> None:
    with pytest.raises(PluginConfigError,
                       match=r"^plugin 'sample': configuration must be a mapping, got list$"):
        parse([1])


def test_a_hand_parsed_section_takes_a_prefix_and_inherited_defaults() -> None:
    limits = parse_config(Limits, {"burst": 2}, plugin="rl", prefix="endpoints.chat.",
                          defaults={"rate": 4})
    assert limits == Limits(rate=4.0, burst=2)
    with pytest.raises(PluginConfigError, match=r"^plugin 'rl': endpoints\.chat\.rate: must"):
        parse_config(Limits, {}, plugin="rl", prefix="endpoints.chat.", defaults={"rate": 0})


def test_a_check_converts_or_rejects_with_the_key_named() -> None:
    def even(value: int) -> int:
        if value % 2:
            raise ValueError("must be even")
        return value // 2

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked(PluginConfig):
        half: int | None = setting(None, check=even)

    assert parse_config(Checked, {"half": 4}, plugin="c").half == 2
    assert parse_config(Checked, {"half": None}, plugin="c").half is None
    with pytest.raises(PluginConfigError, match=r"^plugin 'c': half: must be even$"):
        parse_config(Checked, {"half": 3}, plugin="c")


def test_to_dict_is_json_shaped_with_every_key() -> None:
    data = parse({"statuses": [503, 429, 500], "endpoints": {"chat": {}}}).to_dict()
    assert data["statuses"] == [429, 500, 503] and data["paths"] == []
    assert data["endpoints"] == {"chat": {"rate": 10.0, "burst": 1}}
    assert data["limits"] == {"rate": 10.0, "burst": 1}
    assert set(data) == {f.name for f in dataclasses.fields(Sample)}


def test_describe_settings_lists_keys_defaults_and_their_readme_text() -> None:
    info = {s.key: s for s in describe_settings(Sample)}
    assert list(info)[:3] == ["attempts", "delay", "mode"]
    assert info["delay"].default_text == "0.5 s" and info["mode"].default_text == '`"full"`'
    assert info["deadline"].default_text == "none" and info["enabled"].default_text == "false"
    assert info["statuses"].default_text == "[429, 503]" and info["paths"].default_text == "[]"


def test_a_setting_without_default_is_required() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Needs(PluginConfig):
        url: str
        port: int = 80

    assert parse_config(Needs, {"url": "u"}, plugin="n") == Needs("u")
    with pytest.raises(PluginConfigError, match=r"^plugin 'n': url: is required$"):
        parse_config(Needs, {"port": 1}, plugin="n")
    assert describe_settings(Needs)[0].default_text == "required"


def test_no_config_rejects_every_key() -> None:
    assert parse_config(NoConfig, {}, plugin="bare") == NoConfig()
    with pytest.raises(PluginConfigError, match=r"^plugin 'bare': unknown key 'x' \(known: \)$"):
        parse_config(NoConfig, {"x": 1}, plugin="bare")


# -- the plugin base ------------------------------------------------------------------------


class SamplePlugin(Plugin[Sample]):
    name: ClassVar[str] = "sample"
    config_class = Sample

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self.changes: list[tuple[int, int]] = []
        self.refuse = False

    def config_changed(self, old: Sample) -> None:
        if self.refuse:
            raise RuntimeError("cannot apply")
        self.changes.append((old.attempts, self.settings.attempts))


def test_plugin_parses_its_section_and_reports_the_effective_config() -> None:
    plugin = SamplePlugin({"attempts": 5})
    assert plugin.settings.attempts == 5 and plugin.config["attempts"] == 5
    assert plugin.config["statuses"] == [429, 503]
    with pytest.raises(PluginConfigError, match="^plugin 'sample': unknown key 'x'"):
        SamplePlugin({"x": 1})


def test_reconfigure_swaps_settings_and_a_failure_changes_nothing() -> None:
    plugin = SamplePlugin({"attempts": 5})
    plugin.reconfigure({"attempts": 7})
    assert plugin.settings.attempts == 7 and plugin.changes == [(5, 7)]
    with pytest.raises(PluginConfigError, match="attempts"):
        plugin.reconfigure({"attempts": 0})
    plugin.refuse = True
    with pytest.raises(RuntimeError, match="cannot apply"):
        plugin.reconfigure({"attempts": 2})
    assert plugin.settings.attempts == 7 and plugin.changes == [(5, 7)]


def test_client_clock_and_events_before_and_after_attachment() -> None:
    plugin = SamplePlugin()
    assert not plugin.attached and not plugin.wants_events
    with pytest.raises(RuntimeError, match="plugin 'sample' is not attached"):
        plugin.clock  # noqa: B018
    plugin.emit(Event("nothing", "sample", 0.0))  # a no-op, not an error
    clock = FakeClock()
    client = OllamaClient("http://127.0.0.1:1", plugins=[plugin], clock=clock)
    assert plugin.attached and plugin.client is client and plugin.clock is clock
    seen: list[Event] = []
    client.on_event(seen.append)
    assert plugin.wants_events
    plugin.emit(Event("something", "sample", 0.0))
    assert [e.name for e in seen] == ["something"]


def test_the_client_builds_reconfigures_and_rejects_through_the_declaration() -> None:
    client = OllamaClient("http://127.0.0.1:1", plugins=[SamplePlugin],
                          plugin_config={"sample": {"attempts": 4}})
    plugin = client.plugin(SamplePlugin)
    assert plugin.settings.attempts == 4
    client.configure_plugin("sample", {"attempts": 6})
    assert client.plugin(SamplePlugin).settings.attempts == 6
    with pytest.raises(PluginConfigError, match=r"^plugin 'sample': attempts: must be at least"):
        client.configure_plugin("sample", {"attempts": -1})
    with pytest.raises(PluginConfigError, match=r"^plugin 'sample': unknown key 'bogus'"):
        OllamaClient("http://127.0.0.1:1", plugins=[SamplePlugin],
                     plugin_config={"sample": {"bogus": 1}})


def test_a_subclass_setup_runs_once_attached() -> None:
    class WithSetup(Plugin[NoConfig]):
        name: ClassVar[str] = "with_setup"

        def setup(self, client: OllamaClient) -> None:
            self.seen = client

        @hookimpl
        def ollama_prepare_request(self) -> None:
            pass

    client = OllamaClient("http://127.0.0.1:1", plugins=[WithSetup])
    assert client.plugin(WithSetup).seen is client


# -- every built-in plugin: one declaration, one error format, the README checked -----------


def builtin_class(name: str) -> type:
    cls = available_plugins()[name].load()
    assert isinstance(cls, type)
    return cls


def declaration_of(name: str) -> type[PluginConfig]:
    cls = builtin_class(name)
    if not (isinstance(cls, type) and issubclass(cls, Plugin)):
        pytest.fail(f"built-in plugin {name!r} ({cls.__name__}) does not derive from "
                    f"ollama_core.ext.Plugin with a declared config_class")
    return cls.config_class


@pytest.mark.parametrize("name", BUILTIN_PLUGINS)
def test_every_builtin_plugin_rejects_an_unknown_key_in_the_one_format(name: str) -> None:
    declared = declaration_of(name)
    known = ", ".join(sorted(f.name for f in dataclasses.fields(declared)))  # type: ignore[arg-type]
    with pytest.raises(PluginConfigError) as info:
        OllamaClient("http://127.0.0.1:1", plugins=[name],
                     plugin_config={name: {"no_such_key": 1}})
    assert str(info.value) == f"plugin {name!r}: unknown key 'no_such_key' (known: {known})"


def readme_rows() -> dict[str, str]:
    """The "keys (defaults)" cell of each row of the README's plugin table, by plugin."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("| plugin |") and "keys (defaults)" in line)
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    column = header.index("keys (defaults)")
    rows: dict[str, str] = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[column]
    return rows


def readme_keys(cell: str) -> dict[str, str]:
    """```key` (text)`` pairs at the top level of a cell (parentheses balanced, so keys
    mentioned inside another key's text are not counted)."""
    out: dict[str, str] = {}
    for match in re.finditer(r"`([a-z_][a-z0-9_]*)` \(", cell):
        prefix = cell[:match.start()]
        if prefix.count("(") != prefix.count(")"):
            continue
        depth, i = 1, match.end()
        while depth and i < len(cell):
            depth += {"(": 1, ")": -1}.get(cell[i], 0)
            i += 1
        out[match.group(1)] = cell[match.end():i - 1]
    return out


_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?")


def default_matches(text: str, default: Any, default_text: str, unit: str | None,
                    explicit: bool = False) -> bool:
    """Whether the README's parenthesis ``text`` opens with the declared default (numbers
    compared as numbers, unless the declaration gives its own ``default_text``)."""
    number = _NUMBER.match(text)
    if isinstance(default, (int, float)) and not isinstance(default, bool) and number \
            and not explicit:
        rest = text[number.end():].lstrip()
        return float(number.group()) == default and (unit is None or rest.startswith(unit))
    if not text.startswith(default_text):
        return False
    following = text[len(default_text):len(default_text) + 1]
    return not following or not (following.isalnum() or following in "._")


def test_the_readme_check_itself() -> None:
    cell = "`a` (3, first), `b` (`\"x\"`; `\"y\"`), `c` (none = wait (`d` (1)))"
    assert readme_keys(cell) == {"a": "3, first", "b": '`"x"`; `"y"`', "c": "none = wait (`d` (1))"}
    assert default_matches("30 s", 30.0, "30 s", "s")
    assert default_matches("2.0", 2.0, "2", None)
    assert not default_matches("20 s", 2.0, "2 s", "s")
    assert not default_matches("3 ms", 3.0, "3 s", "s")
    assert default_matches("none = wait", None, "none", None)
    assert not default_matches("nonesuch", None, "none", None)
    assert default_matches("20 MiB", 20 * 1024 * 1024, "20 MiB", None, explicit=True)
    assert not default_matches("20 MiB", 20 * 1024 * 1024, "20 MiB", None)


@pytest.mark.parametrize("name", BUILTIN_PLUGINS)
def test_readme_table_matches_the_declared_keys_and_defaults(name: str) -> None:
    declared = declaration_of(name)
    cell = readme_rows()[name]
    documented = readme_keys(cell)
    settings = {s.key: s for s in describe_settings(declared)}
    assert sorted(documented) == sorted(settings), f"README keys of {name!r}"
    fields = {f.name: f for f in dataclasses.fields(declared)}  # type: ignore[arg-type]
    wrong = [f"`{key}` ({documented[key]}) should open with {info.default_text!r}"
             for key, info in settings.items()
             if not default_matches(documented[key], info.default, info.default_text,
                                    fields[key].metadata.get("unit"),
                                    bool(fields[key].metadata.get("default_text")))]
    assert wrong == [], f"README defaults of {name!r}"
