"""The chaos run's fault plan, and the verdict on each call given the faults it met.

A plan gives every request that will arrive on a path its fault (or none), drawn from a
seeded ``random.Random``. ``bench/_chaos_server.py`` serves it; afterwards the n-th
request recorded on a path is known to have met the n-th entry, and each request carries
the marker of the call that sent it, so each call's attempts and their faults are known
exactly. The verdict then follows the documented policy (README, retry and failover
docstrings) and nothing else:

- a fault that leaves the answer intact (a stall shorter than the timeout, slow chunks,
  blank lines, writes split inside UTF-8 characters) must end in a correct answer;
- 429 and 503 (refused before any work) are retried for every call; 502, a dropped
  connection, a body cut short and a server silent past the timeout are retried for
  idempotent calls only; a 500, an
  ``{"error"}`` line and a malformed line are never retried;
- a stream that broke after its first chunk may fail (the caller has seen data) or, if
  the break hid that chunk, be retried: both are allowed, and a chunk delivered twice
  shows up as a wrong answer anyway;
- with ``max_attempts`` spent on retryable faults, the call fails with the last one.

Anything else is an *unexpected failure* (a call failing where the plan allowed none, or
with another error than the fault explains), an *unexpected success* (an answer accepted
although the fault must have broken it), or a *double send* (a non-idempotent call that
reached the server again after an attempt the server may have acted on).

Faults the breaker counts are spaced out in arrival order, and each of them fails at
once (a stall only ever delays a success), so their failures reach the breaker in about
the order they arrived and its default ``fail_max`` of 5 consecutive failures is never
reached on purpose: an open breaker in the run is reported as a problem. (A server silent
past the timeout fails seconds after it arrived, which breaks that reasoning; timeouts
are exercised by the failover scenario's SIGSTOP instead.)
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ollama_core as oc

__all__ = [
    "BENIGN",
    "EMPTY_BODY_PATHS",
    "KINDS",
    "SAFE",
    "Attempt",
    "Verdict",
    "build_plan",
    "judge",
]

#: Faults that must not change the outcome of a call.
BENIGN = frozenset({"stall", "slow", "blank", "split"})
#: Refusals before any work: safe to repeat, even for a non-idempotent call.
SAFE = frozenset({"429", "503"})
#: How long a "hang" keeps the server silent; the chaos clients time out after 5 s.
HANG_SECONDS = 6.0
#: Endpoints whose success is an empty body: body faults have nothing to act on there.
EMPTY_BODY_PATHS = frozenset({"/api/copy", "/api/delete"})

_BROKEN: tuple[type[BaseException], ...] = (
    oc.ReadError, oc.StreamInterruptedError, oc.IncompleteStreamError)
# A body that is not JSON: a malformed stream line, or a plain body that does not parse
# (``DecodeError``, of which ``MalformedLineError`` is a kind, where the client has it).
_DECODE: tuple[type[BaseException], ...] = (getattr(oc, "DecodeError", oc.MalformedLineError),)

@dataclass(frozen=True)
class _Kind:
    name: str
    fields: Callable[[random.Random], dict[str, Any]]
    spaced: bool  # counted by the circuit breaker: keep these apart
    body: bool = False  # acts on the body: a no-op on empty-body endpoints
    weight: float = 1.0  # relative frequency among the spaced faults


KINDS: dict[str, _Kind] = {k.name: k for k in (
    _Kind("stall", lambda r: {"headers_delay": round(r.uniform(0.05, 0.3), 3)}, False),
    _Kind("slow", lambda r: {"chunk_delay": 0.004}, False, body=True),
    _Kind("blank", lambda r: {"blank_lines": True}, False, body=True),
    _Kind("split", lambda r: {"split_writes": True}, False, body=True),
    _Kind("429", lambda r: {"status": 429, "retry_after": 0.05}, False),
    _Kind("503", lambda r: {"status": 503, "retry_after": 0.05}, True),
    _Kind("502", lambda r: {"status": 502}, True),
    _Kind("500", lambda r: {"status": 500}, True),
    _Kind("reset0", lambda r: {"reset_after": 0}, True),
    # Silent past the client's timeout (HANG_SECONDS > the run's 5 s): a hung server. Not
    # in the default plan: its failure completes seconds after its arrival, so several
    # could reach the breaker in a row at the end of a run, whatever the spacing.
    _Kind("hang", lambda r: {"headers_delay": HANG_SECONDS}, True, weight=0.0),
    _Kind("reset", lambda r: {"reset_after": r.randint(1, 3)}, True, body=True),
    _Kind("truncate", lambda r: {"truncate_after": r.randint(0, 2)}, True, body=True),
    _Kind("malformed", lambda r: {"malformed_after": r.randint(0, 2)}, True, body=True),
    _Kind("errorline", lambda r: {"error_after": r.randint(0, 2)}, True, body=True),
)}



def build_plan(paths: Mapping[str, int], rng: random.Random, *, spaced_rate: float = 0.08,
               rate_429: float = 0.02, benign_rate: float = 0.06, gap: int = 4,
               weights: Mapping[str, float] | None = None,
               ) -> dict[str, list[tuple[str, dict[str, Any]] | None]]:
    """For each path, ``length`` entries: ``None`` or ``(kind, FaultRule fields)``.

    After a fault the breaker counts, the next ``gap`` requests on that path get none.
    ``weights`` overrides the relative frequency of spaced kinds (``{"hang": 0.25}``
    adds hung servers; then an open breaker at the end of a run is no surprise).
    """
    plan: dict[str, list[tuple[str, dict[str, Any]] | None]] = {}
    weights = weights or {}
    spaced = [dataclasses.replace(k, weight=weights.get(k.name, k.weight))
              for k in KINDS.values() if k.spaced]
    spaced = [k for k in spaced if k.weight > 0]
    benign = [k for k in KINDS.values() if k.name in BENIGN]
    for path, length in paths.items():
        empty_body = path in EMPTY_BODY_PATHS
        pick_spaced = [k for k in spaced if not (empty_body and k.body)]
        pick_benign = [k for k in benign if not (empty_body and k.body)] or [KINDS["stall"]]
        entries: list[tuple[str, dict[str, Any]] | None] = []
        quiet = 0
        for _ in range(length):
            draw = rng.random()
            kind: _Kind | None = None
            if quiet:
                quiet -= 1
                if draw < benign_rate:
                    kind = rng.choice(pick_benign)
            elif draw < spaced_rate:
                kind = rng.choices(pick_spaced, [k.weight for k in pick_spaced])[0]
                quiet = gap
            elif draw < spaced_rate + rate_429:
                kind = KINDS["429"]
            elif draw < spaced_rate + rate_429 + benign_rate:
                kind = rng.choice(pick_benign)
            entries.append(None if kind is None else (kind.name, kind.fields(rng)))
        plan[path] = entries
    return plan


@dataclass(frozen=True)
class Attempt:
    """One request of a call as the server recorded it, and the fault it met."""

    kind: str | None  # None: no fault
    wire_stream: bool  # what the request asked for on the wire


@dataclass
class Verdict:
    outcome: str  # "ok", "failed_as_planned", "unexpected_failure", "unexpected_success"
    reason: str = ""
    double_sends: int = 0
    faults: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Effect:
    success: bool
    retry: bool
    fail: bool
    errors: tuple[type[BaseException], ...]
    status: int | None = None


def _effect(kind: str | None, *, wire_stream: bool, api_stream: bool, idempotent: bool,
            empty_body: bool) -> _Effect:
    """What the policy allows after an attempt that met ``kind``."""
    if kind is None or kind in BENIGN or (empty_body and KINDS[kind].body):
        return _Effect(True, False, False, ())
    if kind == "429":
        return _Effect(False, True, False, (oc.RateLimitError,), 429)
    if kind == "503":
        return _Effect(False, True, False, (oc.ServiceUnavailableError,), 503)
    if kind == "502":
        return _Effect(False, idempotent, not idempotent, (oc.ServerError,), 502)
    if kind == "500":
        return _Effect(False, False, True, (oc.ServerError,), 500)
    if kind == "reset0":
        return _Effect(False, idempotent, not idempotent, _BROKEN)
    if kind == "hang":
        # no byte within the first-byte timeout: the request may have been acted on
        return _Effect(False, idempotent, not idempotent, (oc.OllamaTimeoutError,))
    if kind in ("reset", "truncate"):
        # A streaming caller may have seen the first chunk (then the call fails) or not
        # (then it is an ordinary broken attempt); a plain call is always a broken attempt.
        return _Effect(False, idempotent, api_stream or not idempotent, _BROKEN)
    if kind == "malformed":
        return _Effect(False, False, True,
                       (oc.MalformedLineError,) if api_stream else _DECODE)
    if kind == "errorline":
        # An {"error"} line in a 200 stream; a plain body answers 500 with the error, and
        # a plain call the client sent as a stream may report it either way.
        if api_stream:
            return _Effect(False, False, True, (oc.StreamErrorLine,))
        if wire_stream:
            return _Effect(False, False, True, (oc.StreamErrorLine, oc.ServerError), 500)
        return _Effect(False, False, True, (oc.ServerError,), 500)
    raise ValueError(f"unknown fault kind {kind!r}")


def _matches(effect: _Effect, error: BaseException) -> bool:
    if not isinstance(error, effect.errors):
        return False
    if (effect.status is not None and isinstance(error, oc.ResponseError)
            and not isinstance(error, oc.StreamErrorLine)):
        return error.status_code == effect.status
    return True


def judge(attempts: Sequence[Attempt], error: BaseException | None, *, api_stream: bool,
          idempotent: bool, empty_body: bool, max_attempts: int) -> Verdict:
    """The verdict on one call that reached the server ``len(attempts)`` times and ended
    with ``error`` (``None``: it returned an answer, whose content is checked elsewhere)."""
    verdict = Verdict("ok", faults=sum(1 for a in attempts if a.kind is not None))
    if not attempts:
        raise ValueError("judge() needs at least one attempt")
    effects = [_effect(a.kind, wire_stream=a.wire_stream, api_stream=api_stream,
                       idempotent=idempotent, empty_body=empty_body) for a in attempts]
    # Double sends: every arrival after one the server may have acted on.
    if not idempotent:
        acted = False
        for attempt in attempts:
            if acted:
                verdict.double_sends += 1
            if attempt.kind not in SAFE:
                acted = True
    for n, (attempt, effect) in enumerate(zip(attempts[:-1], effects[:-1]), start=1):
        if not effect.retry:
            verdict.outcome = "unexpected_failure" if error is not None else "unexpected_success"
            verdict.reason = f"attempt {n} met {attempt.kind or 'no fault'} and was repeated"
            return verdict
    if len(attempts) > max_attempts:
        verdict.outcome = "unexpected_failure" if error is not None else "unexpected_success"
        verdict.reason = f"{len(attempts)} attempts, max_attempts is {max_attempts}"
        return verdict
    last, effect = attempts[-1], effects[-1]
    if error is None:
        if not effect.success:
            verdict.outcome = "unexpected_success"
            verdict.reason = f"answer accepted after {last.kind}"
        return verdict
    exhausted = effect.retry and len(attempts) >= max_attempts
    if (effect.fail or exhausted) and _matches(effect, error):
        verdict.outcome = "failed_as_planned"
        return verdict
    verdict.outcome = "unexpected_failure"
    if effect.success:
        verdict.reason = f"failed after {last.kind or 'no fault'}"
    elif effect.retry and not exhausted:
        verdict.reason = f"not retried after {last.kind} (attempt {len(attempts)})"
    else:
        verdict.reason = f"wrong error after {last.kind}"
    return verdict
