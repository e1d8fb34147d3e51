"""Fault injection: what can go wrong, and which request it happens to.

A :class:`FaultRule` describes one misbehaviour (an error status, a delay, a dropped
connection, a broken stream...) and which requests it applies to. The :class:`FaultSet`
holds the armed rules; it is locked so that tests running the emulator in a background
thread can arm faults from their own thread.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

__all__ = ["FaultRule", "FaultSet", "default_error_message"]

#: The text real Ollama sends with a 503 when its queue is full (note the two spaces).
SERVER_BUSY = "server busy, please try again.  maximum pending requests exceeded"
#: What a runner failure looks like mid-stream (F8).
RUNNER_ERROR = "an error was encountered while running the model"

_DEFAULT_MESSAGES: dict[int, str] = {
    400: "invalid request",
    401: "unauthorized",
    404: "model '{model}' not found",
    429: "too many requests, please slow down",
    499: "request canceled",
    500: "llama runner process has terminated: exit status 2",
    502: "an error was encountered while connecting to the remote model",
    503: SERVER_BUSY,
    504: "timed out waiting for the remote model",
}


def default_error_message(status: int, model: str | None = None) -> str:
    """A realistic ``{"error": ...}`` text for ``status``."""
    template = _DEFAULT_MESSAGES.get(status)
    if template is None:
        try:
            return HTTPStatus(status).phrase.lower()
        except ValueError:
            return "error"
    return template.format(model=model or "")


@dataclass(frozen=True)
class FaultRule:
    """One misbehaviour and the requests it applies to.

    Matching: ``path`` is an exact path, a glob such as ``/api/blobs/*``, or ``None`` for
    every ``/api`` path; ``method`` is an HTTP method or ``None`` for any. ``times`` is how
    many matching requests the rule affects (``None``: all of them).

    Before the response starts (every endpoint): ``headers_delay`` sleeps, then
    ``reset_after=0`` drops the connection without a byte, then ``status`` answers with
    ``{"error": error}`` (a realistic text when ``error`` is ``None``; a bare body for
    403, as Ollama's Host-header guard sends) and an optional ``Retry-After``.

    In a stream, counted in lines sent (``N``): ``reset_after`` aborts the connection with
    a TCP RST, ``malformed_after`` sends one line that is not JSON and then carries on,
    ``error_after`` sends ``{"error": ...}`` and ends the stream with the status still
    200, ``truncate_after`` ends the stream cleanly without its last line. When the
    stream is shorter than ``N``, the fault fires in place of the final line, so an armed
    fault always shows. ``chunk_delay`` sleeps between lines, ``blank_lines`` puts an
    empty line between lines, ``split_writes`` writes each line in pieces, cutting inside
    multi-byte UTF-8 characters (send non-ASCII text to get some).

    Faults do literally what they say: ``error_after=0`` gives a 200 stream whose first
    line is the error. (Ollama itself turns a failure before the first line into a real
    status with an ``application/json`` body; arm ``status=500, error=...`` for that.)

    A non-streamed body honours ``reset_after`` (> 0: half the body, then RST),
    ``truncate_after`` (half the body, then a clean close), ``malformed_after`` (a body
    that is not JSON), ``error_after`` (500 with the error, as a failed generation gives)
    and ``split_writes``.

    A rule with nothing set is a pass-through: it consumes a match and changes nothing,
    which is how :meth:`FaultSet.script` spells "then a normal response".
    """

    path: str | None = None
    method: str | None = None
    times: int | None = 1
    status: int | None = None
    error: str | None = None
    retry_after: float | str | None = None
    headers_delay: float = 0.0
    chunk_delay: float | None = None
    reset_after: int | None = None
    malformed_after: int | None = None
    error_after: int | None = None
    truncate_after: int | None = None
    blank_lines: bool = False
    split_writes: bool = False

    def __post_init__(self) -> None:
        if self.method is not None:
            object.__setattr__(self, "method", self.method.upper())
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 or None (forever)")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {self.status}")
        if self.headers_delay < 0 or (self.chunk_delay is not None and self.chunk_delay < 0):
            raise ValueError("delays must be >= 0")
        for name in ("reset_after", "malformed_after", "error_after", "truncate_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0")

    @property
    def passthrough(self) -> bool:
        """True when the rule changes nothing about the response."""
        return self == FaultRule(path=self.path, method=self.method, times=self.times)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        if self.path is None:
            return path == "/api" or path.startswith("/api/")
        if any(ch in self.path for ch in "*?["):
            return fnmatch.fnmatchcase(path, self.path)
        return self.path == path

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from JSON (the HTTP control API); unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown FaultRule field(s): {', '.join(unknown)}")
        try:
            return cls(**dict(data))
        except TypeError as exc:
            raise ValueError(str(exc)) from None


class _Armed:
    """A rule plus how many more requests it may affect."""

    __slots__ = ("remaining", "rule")

    def __init__(self, rule: FaultRule) -> None:
        self.rule = rule
        self.remaining = rule.times


class FaultSet:
    """The armed fault rules of one emulator. Thread-safe.

    Rules are tried in insertion order; the first that matches and has uses left applies
    to the request and uses one up. Used-up rules disappear.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []

    def add(self, rule: FaultRule | None = None, /, **fields: Any) -> FaultRule:
        """Arm ``rule``, or a rule built from keyword fields: ``add(path=..., status=503)``."""
        if rule is None:
            rule = FaultRule(**fields)
        elif fields:
            rule = dataclasses.replace(rule, **fields)
        with self._lock:
            self._armed.append(_Armed(rule))
        return rule

    def extend(self, rules: Iterable[FaultRule]) -> None:
        with self._lock:
            self._armed.extend(_Armed(rule) for rule in rules)

    def script(
        self,
        path: str | None,
        statuses: Sequence[int | None],
        *,
        method: str | None = None,
        **fields: Any,
    ) -> list[FaultRule]:
        """Answer the next ``len(statuses)`` matching requests with these statuses in order.

        A 2xx status or ``None`` means "a normal response" at that position. Extra keyword
        fields (e.g. ``retry_after=1``) go to every error rule.
        """
        rules = [
            FaultRule(path=path, method=method, times=1)
            if status is None or 200 <= status < 300
            else FaultRule(path=path, method=method, times=1, status=status, **fields)
            for status in statuses
        ]
        self.extend(rules)
        return rules

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    @property
    def rules(self) -> list[FaultRule]:
        """The rules that still have uses left, in matching order."""
        with self._lock:
            return [armed.rule for armed in self._armed]

    def __len__(self) -> int:
        with self._lock:
            return len(self._armed)

    def take(self, method: str, path: str) -> FaultRule | None:
        """The rule for this request, if any, using one of its uses."""
        with self._lock:
            for index, armed in enumerate(self._armed):
                if not armed.rule.matches(method, path):
                    continue
                if armed.remaining is not None:
                    armed.remaining -= 1
                    if armed.remaining <= 0:
                        del self._armed[index]
                return armed.rule
        return None
