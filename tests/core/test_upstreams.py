"""``Upstream`` is read-only; ``UpstreamRegistry`` methods are the only writers.

Each writing method is checked for its whole effect: what it changes and what it leaves
alone (the traffic counters and the probe findings are kept apart).
"""

from __future__ import annotations

import pytest
import yarl

from ollama_core import Upstream, UpstreamRegistry

A = yarl.URL("http://a.example:11434")
B = yarl.URL("http://user:pw@b.example:11434")

FIELDS = ("url", "api_key", "healthy", "down_until", "last_error", "last_latency",
          "consecutive_failures", "consecutive_successes", "requests", "failures")


def state(u: Upstream) -> dict[str, object]:
    return {name: getattr(u, name) for name in FIELDS}


def fresh(url: yarl.URL = A, api_key: str | None = None) -> tuple[UpstreamRegistry, Upstream]:
    u = Upstream(url, api_key=api_key)
    return UpstreamRegistry([u]), u


def test_a_new_upstream_knows_nothing_yet() -> None:
    u = Upstream(A, api_key="sk-1")
    assert state(u) == {"url": A, "api_key": "sk-1", "healthy": None, "down_until": None,
                        "last_error": None, "last_latency": None,
                        "consecutive_failures": 0, "consecutive_successes": 0,
                        "requests": 0, "failures": 0}
    assert u.is_available(0.0)


@pytest.mark.parametrize("name", FIELDS)
def test_writing_a_field_directly_fails(name: str) -> None:
    u = Upstream(A)
    before = state(u)
    with pytest.raises(AttributeError):
        setattr(u, name, 1)
    assert state(u) == before


def test_no_new_attributes_either() -> None:
    u = Upstream(A)
    with pytest.raises(AttributeError):
        u.helthy = False  # type: ignore[attr-defined]  # a typo must not pass silently


def test_equality_is_identity_and_upstreams_are_weakly_referenceable() -> None:
    import weakref

    one, two = Upstream(A), Upstream(A)
    assert one != two and len({one, two}) == 2
    assert weakref.ref(one)() is one


def test_repr_and_display_hide_credentials() -> None:
    u = Upstream(B, api_key="sk-secret")
    assert "pw" not in u.display and "sk-secret" not in repr(u) and "pw" not in repr(u)
    assert repr(u) == f"Upstream({u.display!r}, unknown, down_until=None)"


def test_record_attempt_counts_requests_only() -> None:
    registry, u = fresh()
    registry.record_attempt(u)
    registry.record_attempt(u)
    assert state(u) == {**state(Upstream(A)), "requests": 2}


def test_mark_down_records_the_failure_and_the_cooldown() -> None:
    registry, u = fresh()
    registry.mark_success(u)
    registry.mark_down(u, until=130.0, error=ConnectionRefusedError("refused"))
    assert (u.down_until, u.last_error) == (130.0, "ConnectionRefusedError: refused")
    assert (u.failures, u.consecutive_failures, u.consecutive_successes) == (1, 1, 0)
    assert not u.is_available(129.9) and u.is_available(130.0)
    registry.mark_down(u, until=200.0, error="HTTP 503")
    assert (u.down_until, u.last_error, u.failures, u.consecutive_failures) == (
        200.0, "HTTP 503", 2, 2)
    assert (u.requests, u.healthy, u.last_latency) == (0, None, None)


def test_mark_success_ends_the_cooldown_and_the_failure_run() -> None:
    registry, u = fresh()
    registry.mark_down(u, until=130.0, error="boom")
    registry.mark_success(u)
    registry.mark_success(u)
    assert (u.down_until, u.consecutive_failures, u.consecutive_successes) == (None, 0, 2)
    # The history stays: one failure happened, and it was the last error seen.
    assert (u.failures, u.last_error) == (1, "boom")
    assert u.is_available(0.0)


def test_record_probe_sets_the_verdict_and_keeps_traffic_counters_apart() -> None:
    registry, u = fresh()
    registry.mark_down(u, until=130.0, error="boom")
    registry.record_probe(u, healthy=None, latency=0.25, error=None)
    assert (u.healthy, u.last_latency, u.last_error) == (None, 0.25, "boom")
    registry.record_probe(u, healthy=False, latency=None, error="HTTP 500")
    assert (u.healthy, u.last_latency, u.last_error) == (False, 0.25, "HTTP 500")
    assert not u.is_available(1e9)  # unhealthy, whatever the cooldown says
    registry.record_probe(u, healthy=True, latency=0.5, error=None)
    assert (u.healthy, u.last_latency) == (True, 0.5)
    # Probes are not traffic: counters and the cooldown are as mark_down left them.
    assert (u.requests, u.failures, u.consecutive_failures, u.consecutive_successes,
            u.down_until) == (0, 1, 1, 0, 130.0)


def test_end_cooldown_brings_back_into_rotation_without_counting_a_success() -> None:
    registry, u = fresh()
    registry.mark_down(u, until=130.0, error="boom")
    registry.end_cooldown(u)
    assert u.down_until is None and u.is_available(0.0)
    assert (u.failures, u.consecutive_failures, u.consecutive_successes) == (1, 1, 0)


def test_the_registry_lists_looks_up_and_replaces() -> None:
    a, b = Upstream(A), Upstream(B)
    registry = UpstreamRegistry([a, b])
    assert registry.primary is a and list(registry) == [a, b] and len(registry) == 2
    assert registry.get("http://b.example:11434") is b  # credentials do not matter
    assert registry.get(A) is a and registry.get("http://c.example:11434") is None
    registry.mark_down(a, until=10.0, error="x")
    assert registry.available(5.0) == [b] and registry.available(10.0) == [a, b]
    registry.replace([b])
    assert registry.primary is b and list(registry) == [b]
    with pytest.raises(ValueError):
        registry.replace([])
    with pytest.raises(ValueError):
        UpstreamRegistry([])


def test_nothing_outside_the_registry_writes_the_private_state() -> None:
    """The slots behind the read-only attributes are written only in ``_upstreams.py``:
    no other module of the package or the plugins assigns ``<something>._down_until``
    (or any other of those names) on an object other than ``self``."""
    import ast
    import pathlib

    import ollama_core

    root = pathlib.Path(ollama_core.__file__).parent
    slots = set(Upstream.__slots__) - {"__weakref__"}
    offenders = []
    for folder in (root, root.parent / "plugins"):
        for path in folder.rglob("*.py"):
            if path.name == "_upstreams.py" and path.parent == root:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            offenders += [f"{path.name}:{node.lineno} .{node.attr}"
                          for node in ast.walk(tree)
                          if isinstance(node, ast.Attribute) and node.attr in slots
                          and isinstance(node.ctx, ast.Store)
                          and not (isinstance(node.value, ast.Name)
                                   and node.value.id == "self")]
    assert offenders == []
