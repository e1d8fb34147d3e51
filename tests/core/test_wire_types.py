"""The wire objects of the newer endpoints (status, me, web search/fetch, model
recommendations, System One): decoding, encoding, validation naming the field, builders."""

from __future__ import annotations

from typing import Any

import pytest

from ollama_core._exceptions import InvalidRequestError
from ollama_core._schemas import REQUEST_KINDS, validate_request
from ollama_core._types import (
    CloudStatus,
    ModelRecommendation,
    ModelRecommendationsResponse,
    StatusResponse,
    SystemOneChoiceAnswer,
    SystemOneChoiceQuestion,
    SystemOneNoulAnswer,
    SystemOneNoulQuestion,
    SystemOneRequest,
    SystemOneResponse,
    SystemOneScoreAnswer,
    SystemOneScoreQuestion,
    SystemOneUsage,
    UserResponse,
    WebFetchRequest,
    WebFetchResponse,
    WebSearchRequest,
    WebSearchResponse,
    WebSearchResult,
)


def _refused(kind: str, wire: Any) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        validate_request(kind, wire)
    return info.value


def test_new_request_kinds_are_known() -> None:
    assert {"web_search", "web_fetch", "systemone"} <= REQUEST_KINDS


def test_status_decodes_typed_and_keeps_unknown_keys() -> None:
    status = StatusResponse.from_dict({"cloud": {"disabled": True, "source": "env",
                                                 "new": 1}, "later": "x"})
    assert status.cloud == CloudStatus(disabled=True, source="env", extra={"new": 1})
    assert status["cloud"]["source"] == "env" and status.extra == {"later": "x"}
    assert status.to_dict() == {"cloud": {"disabled": True, "source": "env", "new": 1},
                                "later": "x"}
    assert StatusResponse.from_dict({}).cloud == CloudStatus()


def test_user_response_has_every_field_of_go_user_response() -> None:
    wire = {"id": "4f1c-uuid", "email": "a@b.c", "name": "ann", "bio": "hi",
            "avatarurl": "https://x/a.png", "firstname": "Ann", "lastname": "Lee",
            "plan": "pro"}
    user = UserResponse.from_dict(wire)
    assert (user.id, user.email, user.name, user.bio, user.avatarurl, user.firstname,
            user.lastname, user.plan) == tuple(wire.values())
    assert user.extra == {} and user.to_dict() == wire
    assert UserResponse.from_dict({"id": "i", "email": "e", "name": "n"}).plan is None


def test_model_recommendations_decode_to_typed_entries() -> None:
    resp = ModelRecommendationsResponse.from_dict({"recommendations": [
        {"model": "gemma3", "description": "small", "context_length": 8192,
         "max_output_tokens": 1024, "vram_bytes": 3_000_000_000, "required_plan": "free"},
        {"model": "big:cloud", "description": "large"}]})
    first, second = resp.recommendations
    assert isinstance(first, ModelRecommendation) and first.vram_bytes == 3_000_000_000
    assert first.required_plan == "free" and second.context_length is None
    assert resp["recommendations"][1]["model"] == "big:cloud"


def test_web_search_request_validates_and_names_the_field() -> None:
    assert WebSearchRequest(query="ollama", max_results=3).validate() == {
        "query": "ollama", "max_results": 3}
    assert validate_request("web_search", {"query": "q"}) == {"query": "q"}
    assert _refused("web_search", {"max_results": 2}).field == "query"
    assert _refused("web_search", {"query": "q", "max_results": "2"}).field == "max_results"
    assert _refused("web_search", {"query": "q", "max_results": True}).field == "max_results"
    assert _refused("web_search", {"query": 5}).field == "query"
    # no invented limit: the server decides what a large max_results means
    assert validate_request("web_search", {"query": "q", "max_results": 1000})


def test_web_search_and_fetch_responses_decode() -> None:
    resp = WebSearchResponse.from_dict({"results": [
        {"title": "T", "url": "https://u", "content": "C", "score": 0.5}]})
    assert resp.results == [WebSearchResult(title="T", url="https://u", content="C",
                                            extra={"score": 0.5})]
    page = WebFetchResponse.from_dict({"title": "T", "content": "C", "links": ["a", "b"]})
    assert page.links == ["a", "b"] and WebFetchResponse.from_dict({}).links is None
    assert WebFetchRequest(url="https://ollama.com").validate() == {"url": "https://ollama.com"}
    assert _refused("web_fetch", {"url": None}).field == "url"
    assert _refused("web_fetch", {"url": "  "}).field == "url"


SYSTEMONE: dict[str, Any] = {
    "model": "nimble",
    "state": {"ticket": "refund please"},
    "questions": {
        "route": {"type": "choice", "instructions": "Which team?",
                  "criteria": {"billing": "money", "tech": None}},
        "urgent": {"type": "noul", "instructions": "Urgent?"},
        "mood": {"type": "score", "instructions": ["rate", "it"],
                 "criteria": ["angry", "calm", "happy"]},
    },
    "keep_alive": "5m",
}


def test_systemone_request_types_its_questions_by_type() -> None:
    request = SystemOneRequest.from_dict(SYSTEMONE)
    questions = request.questions
    assert isinstance(questions["route"], SystemOneChoiceQuestion)
    assert isinstance(questions["urgent"], SystemOneNoulQuestion)
    assert isinstance(questions["mood"], SystemOneScoreQuestion)
    assert list(questions["route"].criteria) == ["billing", "tech"]  # order kept
    assert request.validate() == SYSTEMONE
    typed = SystemOneRequest(model="m", state="s", questions={
        "q": SystemOneNoulQuestion(instructions="ok?", criteria={"true": "yes"})},
        images=[b"hi"])
    assert typed.validate() == {"model": "m", "state": "s", "images": ["aGk="], "questions": {
        "q": {"type": "noul", "instructions": "ok?", "criteria": {"true": "yes"}}}}


@pytest.mark.parametrize(("change", "field"), [
    ({"model": ""}, "model"),
    ({"state": 5}, "state"),
    ({"state": None}, "state"),
    ({"questions": []}, "questions"),
    ({"questions": {"q": {"type": "rank", "instructions": "x"}}}, "questions.q.type"),
    ({"questions": {"q": {"instructions": "x", "criteria": []}}}, "questions.q.type"),
    ({"questions": {"q": {"type": "choice", "criteria": {"a": None}}}},
     "questions.q.instructions"),
    ({"questions": {"q": {"type": "choice", "instructions": "x"}}}, "questions.q.criteria"),
    ({"questions": {"q": {"type": "choice", "instructions": "x", "criteria": {"a": 1}}}},
     "questions.q.criteria.a"),
    ({"questions": {"q": {"type": "score", "instructions": "x", "criteria": "low"}}},
     "questions.q.criteria"),
    ({"questions": {"q": {"type": "noul", "instructions": 3}}}, "questions.q.instructions"),
    ({"questions": {"q": "yes?"}}, "questions.q"),
    ({"keep_alive": "forever"}, "keep_alive"),
    ({"images": ["data:image/png;base64,aGk="]}, "images.0"),
])
def test_systemone_refusals_name_the_field(change: dict[str, Any], field: str) -> None:
    assert _refused("systemone", {**SYSTEMONE, **change}).field == field


def test_systemone_missing_required_keys_are_named() -> None:
    error = _refused("systemone", {"model": "m"})
    assert set(error.errors) == {"state", "questions"}


def test_systemone_checks_types_only_no_invented_limits() -> None:
    # one choice, one score level, an empty question set: the server's call, not ours
    wire = {"model": "m", "state": "s", "questions": {
        "a": {"type": "choice", "instructions": "x", "criteria": {"only": None}},
        "b": {"type": "score", "instructions": "x", "criteria": ["one"]}}}
    assert validate_request("systemone", wire) is wire
    assert validate_request("systemone", {"model": "m", "state": [], "questions": {}})


def test_systemone_response_types_answers_and_usage() -> None:
    resp = SystemOneResponse.from_dict({
        "model": "nimble",
        "answers": {
            "route": {"type": "choice", "choice": "billing",
                      "probabilities": {"billing": 0.9, "tech": 0.1}, "confidence": 0.8},
            "urgent": {"type": "noul", "noul": 0.2},
            "mood": {"type": "score", "score": 1.4, "legend": {"0": "angry"},
                     "probabilities": {"0": 0.1}, "confidence": 0.5},
            "future": {"type": "rank", "order": [1]},
        },
        "usage": {"input_tokens": 30, "output_tokens": 3},
    })
    assert resp.answers["route"] == SystemOneChoiceAnswer(
        choice="billing", probabilities={"billing": 0.9, "tech": 0.1}, confidence=0.8)
    assert resp.answers["urgent"] == SystemOneNoulAnswer(noul=0.2)
    mood = resp.answers["mood"]
    assert isinstance(mood, SystemOneScoreAnswer) and mood.score == 1.4
    assert resp.answers["future"] == {"type": "rank", "order": [1]}  # unknown type kept
    assert resp.usage == SystemOneUsage(input_tokens=30, output_tokens=3)
    assert resp["answers"]["urgent"]["noul"] == 0.2


def test_new_requests_have_builders_with_generated_setters() -> None:
    request = WebSearchRequest.builder().query("ollama").max_results(2).build()
    assert request == WebSearchRequest(query="ollama", max_results=2)
    with pytest.raises(InvalidRequestError) as info:
        WebSearchRequest.builder().max_results(2).build()
    assert info.value.field == "query"
    built = (SystemOneRequest.builder().model("m").state("s")
             .questions({"q": {"type": "noul", "instructions": "?"}}).keep_alive(0).build())
    assert built.validate()["keep_alive"] == 0
    assert WebSearchRequest.builder().max_results.__doc__


def test_systemone_required_fields_are_required_by_the_constructors_too() -> None:
    # a typed request never fills a required key with an empty default
    with pytest.raises(TypeError):
        SystemOneRequest(model="m", state="s")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        SystemOneScoreQuestion(instructions="x")  # type: ignore[call-arg]
    with pytest.raises(InvalidRequestError) as info:
        SystemOneRequest.from_dict({"model": "m", "state": "s"}).validate()
    assert info.value.field == "questions"
    with pytest.raises(InvalidRequestError) as info:
        SystemOneRequest(model="m", state="s", questions={
            "q": {"type": "choice", "instructions": "x"}}).validate()
    assert info.value.field == "questions.q.criteria"
