"""System One decision calls: ``POST /v1/systemone`` (Ollama 0.35+, not streamed).

The server source read for the rest of the API predates this endpoint; the source of these
declarations is ollama-python 0.6.3's ``_types.py`` (``SystemOneRequest`` and the question,
answer and usage models). Only types and required keys are checked: the server owns the
limits (how many choices, score levels...).
"""

from __future__ import annotations

from dataclasses import field
from typing import Any, Literal, TypeAlias

from ._spec import (
    Base64Image,
    Content,
    Duration,
    List,
    ModelName,
    OneOf,
    Str,
    StrList,
    StrMap,
    StrOrNullMap,
)
from ._decl import IMAGES, Request, Wire, declare, wire

__all__ = [
    "SystemOneAnswer",
    "SystemOneChoiceAnswer",
    "SystemOneChoiceQuestion",
    "SystemOneContent",
    "SystemOneNoulAnswer",
    "SystemOneNoulQuestion",
    "SystemOneQuestion",
    "SystemOneRequest",
    "SystemOneResponse",
    "SystemOneScoreAnswer",
    "SystemOneScoreQuestion",
    "SystemOneUsage",
]

#: Text, or a JSON object or array (rendered as text by the model).
SystemOneContent: TypeAlias = "str | dict[str, Any] | list[Any]"


def _tag(value: str) -> Any:
    return Str(validate=OneOf([value], error=f'Must be "{value}".'))


@declare()
class SystemOneChoiceQuestion(Wire):
    """Pick one of several choices."""

    type: Literal["choice"] = wire(_tag("choice"), required=True, default="choice",
                                   setter=False, doc='Always "choice".')
    instructions: SystemOneContent = wire(Content(), required=True,
                                          doc="What to decide (text, object or array).")
    criteria: dict[str, str | None] = wire(
        StrOrNullMap(), required=True,
        doc="The choices in order, each with a description (null: the choice's name).")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class SystemOneNoulQuestion(Wire):
    """A true/false question."""

    type: Literal["noul"] = wire(_tag("noul"), required=True, default="noul", setter=False,
                                 doc='Always "noul".')
    instructions: SystemOneContent = wire(Content(), required=True,
                                          doc="What to decide (text, object or array).")
    criteria: dict[str, str] | None = wire(
        StrMap(), default=None, doc='What "true" and "false" mean (optional).')
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class SystemOneScoreQuestion(Wire):
    """A score on a scale."""

    type: Literal["score"] = wire(_tag("score"), required=True, default="score",
                                  setter=False, doc='Always "score".')
    instructions: SystemOneContent = wire(Content(), required=True,
                                          doc="What to rate (text, object or array).")
    criteria: list[str] = wire(StrList(), required=True,
                               doc="The levels' descriptions, lowest score first.")
    extra: dict[str, Any] = field(default_factory=dict)


SystemOneQuestion: TypeAlias = (
    "SystemOneChoiceQuestion | SystemOneNoulQuestion | SystemOneScoreQuestion"
)
_QUESTIONS: dict[str, type[Wire]] = {
    "choice": SystemOneChoiceQuestion,
    "noul": SystemOneNoulQuestion,
    "score": SystemOneScoreQuestion,
}


@declare(kind="systemone")
class SystemOneRequest(Request):
    """``POST /v1/systemone``: questions about a state, answered with probabilities."""

    model: str = wire(ModelName(), required=True, doc="A decision model.")
    state: SystemOneContent = wire(Content(), required=True,
                                   doc="What the questions are about (text, object or array).")
    questions: dict[str, SystemOneQuestion | dict[str, Any]] = wire(
        tagged=_QUESTIONS, required=True,
        doc='Name -> question, each picked by its "type": choice, noul or score.')
    images: list[str | bytes] | None = wire(
        List(Base64Image()), conv=IMAGES, default=None,
        doc="Images as base64 text (raw bytes are encoded).")
    keep_alive: float | str | None = wire(Duration(), default=None,
                                          doc="How long the model stays loaded.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class SystemOneChoiceAnswer(Wire):
    """The answer to a ``choice`` question."""

    type: Literal["choice"] = wire(default="choice", doc='Always "choice".')
    choice: str = wire(default="", doc="The choice picked.")
    probabilities: dict[str, float] = wire(default_factory=dict,
                                           doc="Choice -> its probability.")
    confidence: float = wire(default=0.0, doc="Confidence in the pick.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class SystemOneNoulAnswer(Wire):
    """The answer to a ``noul`` (true/false) question."""

    type: Literal["noul"] = wire(default="noul", doc='Always "noul".')
    noul: float = wire(default=0.0, doc="The probability of true.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class SystemOneScoreAnswer(Wire):
    """The answer to a ``score`` question."""

    type: Literal["score"] = wire(default="score", doc='Always "score".')
    score: float = wire(default=0.0, doc="The expected zero-based score (may be fractional).")
    legend: dict[str, str] = wire(default_factory=dict, doc="Score -> its description.")
    probabilities: dict[str, float] = wire(default_factory=dict,
                                           doc="Score -> its probability.")
    confidence: float = wire(default=0.0, doc="Confidence in the score.")
    extra: dict[str, Any] = field(default_factory=dict)


SystemOneAnswer: TypeAlias = "SystemOneChoiceAnswer | SystemOneNoulAnswer | SystemOneScoreAnswer"


@declare()
class SystemOneUsage(Wire):
    """Token counts of a System One call."""

    input_tokens: int = wire(default=0, doc="Tokens read.")
    output_tokens: int = wire(default=0, doc="Tokens generated.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class SystemOneResponse(Wire):
    """The answer of ``POST /v1/systemone``."""

    model: str = wire(default="", doc="The model that answered.")
    answers: dict[str, SystemOneAnswer | dict[str, Any]] = wire(
        tagged={"choice": SystemOneChoiceAnswer, "noul": SystemOneNoulAnswer,
                "score": SystemOneScoreAnswer},
        default_factory=dict, doc="Question name -> its answer, typed by its \"type\".")
    usage: SystemOneUsage = wire(one=SystemOneUsage, default_factory=SystemOneUsage,
                                 doc="Token counts.")
    extra: dict[str, Any] = field(default_factory=dict)
