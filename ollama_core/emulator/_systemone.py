"""``POST /v1/systemone``: System One decision models (Ollama 0.35+).

The Go source read (fb30760) predates this endpoint, so its shapes come from ollama-python
0.6.3 (``SystemOneRequest`` and the answer types) and its README: ``choice`` questions have
2 to 26 options (a ``null`` description stands for the key), ``noul`` answers the
probability of true, ``score`` questions have 2 to 26 levels from lowest to highest and
answer an expected zero-based score, maybe fractional; the server validates the body and
does not stream. The error texts below are the emulator's own, in the server's style.

Answers are deterministic: a digest of the model, the state and the question decides
them, so the same request always gets the same answer.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from aiohttp import web

from ._bind import BindError, bind, keep_alive_seconds
from ._content import tokenize
from ._handlers import request_context
from ._models import is_valid_name
from ._state import EmulatorState
from ._wire import go_dumps, go_quote

__all__ = ["DecisionRoutes", "answer_question"]

QUESTION_TYPES: Final = ("choice", "noul", "score")
MIN_OPTIONS: Final = 2
MAX_OPTIONS: Final = 26


class QuestionError(ValueError):
    """A question the server refuses (400)."""


def _weights(seed: str, count: int) -> list[float]:
    """``count`` positive weights drawn from ``seed``: uneven, so answers have a winner."""
    out: list[float] = []
    block = b""
    counter = 0
    while len(out) < count:
        if not block:
            block = hashlib.sha256(f"{seed}/{counter}".encode()).digest()
            counter += 1
        out.append(float(1 + block[0]) ** 2)
        block = block[1:]
    return out


def _distribution(seed: str, count: int) -> list[float]:
    weights = _weights(seed, count)
    total = sum(weights)
    return [w / total for w in weights]


def _confidence(probabilities: Sequence[float]) -> float:
    """How concentrated the probabilities are: 1 - normalised entropy (0 uniform, 1 sure)."""
    if len(probabilities) < 2:
        return 1.0
    entropy = -sum(p * math.log(p) for p in probabilities if p > 0)
    return max(0.0, 1.0 - entropy / math.log(len(probabilities)))


def check_question(name: str, question: Any) -> str:
    """The question's type, or :class:`QuestionError` naming what is wrong."""
    label = f"question {go_quote(name)}"
    if not isinstance(question, Mapping):
        raise QuestionError(f"{label} must be an object")
    kind = question.get("type")
    if kind not in QUESTION_TYPES:
        raise QuestionError(
            f"{label}: type must be \"choice\", \"noul\" or \"score\", got "
            f"{go_dumps(kind)}"
        )
    if question.get("instructions") in (None, ""):
        raise QuestionError(f"{label}: instructions are required")
    criteria = question.get("criteria")
    if kind == "choice":
        if not isinstance(criteria, Mapping):
            raise QuestionError(f"{label}: criteria must map each choice to a description")
        if not MIN_OPTIONS <= len(criteria) <= MAX_OPTIONS:
            raise QuestionError(
                f"{label}: criteria must have {MIN_OPTIONS} to {MAX_OPTIONS} choices, "
                f"got {len(criteria)}"
            )
        if not all(value is None or isinstance(value, str) for value in criteria.values()):
            raise QuestionError(f"{label}: a choice's description must be a string or null")
    elif kind == "noul":
        if criteria is not None and (
            not isinstance(criteria, Mapping)
            or not set(criteria) <= {"false", "true"}
            or not all(isinstance(value, str) for value in criteria.values())
        ):
            raise QuestionError(
                f"{label}: criteria must map \"false\" and \"true\" to descriptions"
            )
    else:
        if not isinstance(criteria, list) or not all(isinstance(c, str) for c in criteria):
            raise QuestionError(f"{label}: criteria must be a list of descriptions")
        if not MIN_OPTIONS <= len(criteria) <= MAX_OPTIONS:
            raise QuestionError(
                f"{label}: criteria must have {MIN_OPTIONS} to {MAX_OPTIONS} levels, "
                f"got {len(criteria)}"
            )
    return str(kind)


def answer_question(model: str, state: Any, name: str, question: Mapping[str, Any]
                    ) -> dict[str, Any]:
    """The answer to one checked question, shaped by its type."""
    seed = f"{model}\x00{go_dumps(state)}\x00{name}\x00{go_dumps(question)}"
    kind = question["type"]
    if kind == "noul":
        digest = hashlib.sha256(seed.encode()).digest()
        # within (0, 1): a model is never certain
        return {"type": "noul", "noul": (int.from_bytes(digest[:4], "big") % 9801 + 100) / 1e4}
    if kind == "choice":
        keys = list(question["criteria"])
        probabilities = _distribution(seed, len(keys))
        best = max(range(len(keys)), key=probabilities.__getitem__)
        return {
            "type": "choice",
            "choice": keys[best],
            "probabilities": dict(zip(keys, probabilities, strict=True)),
            "confidence": _confidence(probabilities),
        }
    levels: list[str] = list(question["criteria"])
    probabilities = _distribution(seed, len(levels))
    return {
        "type": "score",
        "score": sum(index * p for index, p in enumerate(probabilities)),
        "legend": {str(index): text for index, text in enumerate(levels)},
        "probabilities": {str(index): p for index, p in enumerate(probabilities)},
        "confidence": _confidence(probabilities),
    }


def _input_tokens(state: Any, questions: Mapping[str, Any]) -> int:
    text = state if isinstance(state, str) else go_dumps(state)
    return len(tokenize(text)) + sum(
        len(tokenize(go_dumps(question))) + 2 for question in questions.values()
    )


class DecisionRoutes:
    """``/v1/systemone`` of one emulated server."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def route_table(self) -> list[web.RouteDef]:
        return [web.post("/v1/systemone", self.systemone)]

    async def systemone(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/systemone``: one JSON answer, never a stream.

        Checks in order: the body binds (Go ``encoding/json`` texts), ``model`` is given
        and valid, ``state`` and ``questions`` are given, each question is well formed
        (the limits ollama-python's README states), the model is installed (404 ``model
        'x' not found``), and it is a decision model: any other model gets 400 ``"x" does
        not support decision``, the form of the server's other capability errors
        (``"x" does not support chat``), ``decision`` being the capability's name in the
        docs (docs.ollama.com/capabilities/decision). The exact server text is not in the
        sources read; this is the emulator's choice. ``stream: true`` is refused with 400,
        since the endpoint does not stream.
        """
        responder, raw = request_context(request)
        try:
            body = bind(raw, "systemone")
            keep = keep_alive_seconds(body.get("keep_alive"))
        except BindError as exc:
            return await responder.error(exc.status, exc.message)
        name = body.get("model") or ""
        if not name:
            return await responder.error(400, "model is required")
        if not is_valid_name(name):
            return await responder.error(400, "invalid model name")
        if body.get("stream") is True:
            return await responder.error(400, "streaming is not supported")
        state = body.get("state")
        if state is None or state == "":
            return await responder.error(400, "state is required")
        questions: dict[str, Any] = body.get("questions") or {}
        if not questions:
            return await responder.error(400, "questions are required")
        try:
            for question_name, question in questions.items():
                check_question(question_name, question)
        except QuestionError as exc:
            return await responder.error(400, str(exc))
        record = self.state.find(name)
        if record is None:
            return await responder.error(404, f"model '{name}' not found")
        if not record.has("decision"):
            return await responder.error(400, f"{go_quote(name)} does not support decision")
        self.state.touch(record, keep, {})
        answers = {
            question_name: answer_question(name, state, question_name, question)
            for question_name, question in questions.items()
        }
        return await responder.json(
            {
                "model": name,
                "answers": answers,
                "usage": {
                    "input_tokens": _input_tokens(state, questions),
                    "output_tokens": len(answers),
                },
            }
        )
