"""The emulator's account, cloud, web and System One routes, over raw HTTP."""

from __future__ import annotations

import math
from typing import Any

import aiohttp

from ollama_core.emulator import OllamaEmulator

from .conftest import Api

QUESTIONS: dict[str, Any] = {
    "team": {
        "type": "choice",
        "instructions": "Which team should handle this ticket?",
        "criteria": {"billing": "Payments and refunds", "technical": None, "sales": "Deals"},
    },
    "urgent": {"type": "noul", "instructions": "Is it urgent?",
               "criteria": {"false": "No", "true": "Yes"}},
    "severity": {"type": "score", "instructions": {"ask": "How bad?"},
                 "criteria": ["minor", "major", "outage"]},
}


# ------------------------------------------------------------------------------ status, me


async def test_status_says_cloud_is_enabled(api: Api) -> None:
    reply = await api.get("/api/status")
    assert (reply.status, reply.json()) == (200, {"cloud": {"disabled": False, "source": "none"}})
    api.emulator.state.cloud_disabled = True
    assert (await api.get("/api/status")).json() == {"cloud": {"disabled": True, "source": "env"}}


async def test_me_then_signout_then_unauthorized(api: Api) -> None:
    me = await api.post("/api/me")
    assert me.status == 200
    assert me.json() == {"id": "0e8f4f4c-6c1a-4b8e-9d7e-2f1d5a3c9b10",
                         "email": "emulator@example.com", "name": "emulator", "plan": "free"}
    out = await api.post("/api/signout")
    assert (out.status, out.raw) == (200, b"null")
    again = await api.post("/api/signout")
    assert (again.status, again.json()) == (401, {"error": "you are not currently signed in"})
    gone = await api.post("/api/me")
    assert gone.status == 401
    assert gone.json()["error"] == "unauthorized"
    assert gone.json()["signin_url"].startswith("https://ollama.com/connect?")


async def test_me_reads_an_empty_plan_as_free(api: Api) -> None:
    api.emulator.state.user = {"id": "u", "email": "e@x", "name": "n", "plan": " ",
                               "bio": "hi", "avatarurl": "https://x/a.png"}
    body = (await api.post("/api/me")).json()
    assert body["plan"] == "free" and body["bio"] == "hi"


async def test_model_recommendations_come_from_the_catalogue(api: Api) -> None:
    reply = await api.get("/api/experimental/model-recommendations")
    entries = reply.json()["recommendations"]
    models = [entry["model"] for entry in entries]
    assert models == [name.removesuffix(":latest") for name in api.emulator.registry]
    llama = entries[0]
    assert set(llama) == {"model", "description", "context_length", "vram_bytes"}
    assert llama["context_length"] == 131072
    assert llama["vram_bytes"] == api.emulator.registry["llama3.2:latest"].size


# ------------------------------------------------------------------------------------- web


async def test_experimental_web_search_needs_no_key_and_is_deterministic(api: Api) -> None:
    body = {"query": "ollama tips", "max_results": 2}
    first = await api.post("/api/experimental/web_search", body)
    assert first.status == 200
    results = first.json()["results"]
    assert [set(r) for r in results] == [{"title", "url", "content"}] * 2
    assert results[0]["url"] == "https://example.com/ollama-tips/1"
    assert (await api.post("/api/experimental/web_search", body)).json() == first.json()
    # unset means 5, and 10 at most
    assert len((await api.post("/api/experimental/web_search", {"query": "q"})).json()[
        "results"]) == 5
    assert len((await api.post("/api/experimental/web_search",
                               {"query": "q", "max_results": 50})).json()["results"]) == 10


async def test_experimental_web_routes_refuse_bad_bodies(api: Api) -> None:
    empty = await api.post("/api/experimental/web_search", data=b"  ")
    assert (empty.status, empty.json()) == (400, {"error": "missing request body"})
    typed = await api.post("/api/experimental/web_search", {"query": 5})
    assert typed.status == 400
    assert typed.json()["error"] == (
        "json: cannot unmarshal number into Go struct field WebSearchRequest.query of type "
        "string")
    no_query = await api.post("/api/experimental/web_search", {"query": " "})
    assert (no_query.status, no_query.json()) == (400, {"error": "query is required"})
    bad_url = await api.post("/api/experimental/web_fetch", {"url": "ftp://example.com"})
    assert (bad_url.status, bad_url.json()) == (400, {"error": "invalid url: ftp://example.com"})


async def test_cloud_disabled_refuses_the_local_web_routes(api: Api) -> None:
    api.emulator.state.cloud_disabled = True
    reply = await api.post("/api/experimental/web_fetch", {"url": "https://example.com"})
    assert (reply.status, reply.json()) == (
        403, {"error": "ollama cloud is disabled: web fetch is unavailable"})


async def test_cloud_web_routes_want_a_bearer_key(
    ollama_emulator: OllamaEmulator, http: aiohttp.ClientSession
) -> None:
    url = ollama_emulator.url
    for path, body in (("/api/web_search", {"query": "q"}),
                       ("/api/web_fetch", {"url": "https://example.com/x"})):
        async with http.post(url + path, json=body) as resp:
            assert (resp.status, await resp.json()) == (401, {"error": "unauthorized"})
        async with http.post(url + path, json=body,
                             headers={"Authorization": "Bearer sk-test"}) as resp:
            assert resp.status == 200
            answer = await resp.json()
        if path == "/api/web_fetch":
            assert answer == {"title": answer["title"], "content":
                              "The content of https://example.com/x.", "links": [
                                  "https://example.com/x/about",
                                  "https://example.com/x/contact"]}
    recorded = ollama_emulator.requests[-1]
    assert recorded.headers["Authorization"] == "Bearer ***"
    assert recorded.has_header("Authorization", "Bearer sk-test")


async def test_faults_apply_to_the_new_routes(api: Api) -> None:
    api.emulator.faults.add(path="/api/experimental/web_search", status=503)
    api.emulator.faults.add(path="/v1/systemone", status=500, error="runner crashed")
    busy = await api.post("/api/experimental/web_search", {"query": "q"})
    assert busy.status == 503
    crashed = await api.post("/v1/systemone", {"model": "nimble"})
    assert (crashed.status, crashed.json()) == (500, {"error": "runner crashed"})


# ------------------------------------------------------------------------------- System One


async def _systemone(api: Api, **body: Any) -> Any:
    return await api.post("/v1/systemone", {"model": "nimble", "state": "500s since 9am",
                                            "questions": QUESTIONS, **body})


async def test_systemone_answers_are_shaped_per_question_type(http: aiohttp.ClientSession
                                                              ) -> None:
    async with OllamaEmulator(models=["nimble"]) as emu:
        api = Api(emu, http)
        reply = await _systemone(api)
        assert reply.status == 200
        body = reply.json()
        assert body["model"] == "nimble"
        assert list(body["answers"]) == ["team", "urgent", "severity"]
        team, urgent, severity = (body["answers"][k] for k in ("team", "urgent", "severity"))
        assert team["type"] == "choice"
        assert list(team["probabilities"]) == ["billing", "technical", "sales"]
        assert math.isclose(sum(team["probabilities"].values()), 1.0)
        assert team["choice"] == max(team["probabilities"], key=team["probabilities"].get)
        assert 0.0 <= team["confidence"] <= 1.0
        assert urgent["type"] == "noul" and set(urgent) == {"type", "noul"}
        assert 0.0 < urgent["noul"] < 1.0
        assert severity["type"] == "score"
        assert severity["legend"] == {"0": "minor", "1": "major", "2": "outage"}
        assert list(severity["probabilities"]) == ["0", "1", "2"]
        assert math.isclose(sum(severity["probabilities"].values()), 1.0)
        assert math.isclose(severity["score"], sum(
            int(k) * p for k, p in severity["probabilities"].items()))
        assert 0.0 <= severity["score"] <= 2.0
        assert body["usage"]["output_tokens"] == 3
        assert body["usage"]["input_tokens"] > 0
        # deterministic, and the state matters
        assert (await _systemone(api)).json() == body
        other = (await _systemone(api, state={"errors": [500, 502]})).json()
        assert other["answers"] != body["answers"]
        # the model was loaded
        assert [m["name"] for m in (await api.get("/api/ps")).json()["models"]] == [
            "nimble:latest"]


async def test_systemone_errors(http: aiohttp.ClientSession) -> None:
    async with OllamaEmulator(models=["llama3.2", "nimble"]) as emu:
        api = Api(emu, http)
        cases: list[tuple[dict[str, Any], int, str]] = [
            ({"model": ""}, 400, "model is required"),
            ({"model": "bad name!"}, 400, "invalid model name"),
            ({"state": None}, 400, "state is required"),
            ({"questions": {}}, 400, "questions are required"),
            ({"stream": True}, 400, "streaming is not supported"),
            ({"questions": {"q": {"type": "maybe", "instructions": "?"}}}, 400,
             'question "q": type must be "choice", "noul" or "score", got "maybe"'),
            ({"questions": {"q": {"type": "noul"}}}, 400,
             'question "q": instructions are required'),
            ({"questions": {"q": {"type": "choice", "instructions": "?",
                                  "criteria": {"only": None}}}}, 400,
             'question "q": criteria must have 2 to 26 choices, got 1'),
            ({"questions": {"q": {"type": "score", "instructions": "?", "criteria": "lo"}}},
             400, 'question "q": criteria must be a list of descriptions'),
            ({"model": "nope"}, 404, "model 'nope' not found"),
            ({"model": "llama3.2"}, 400, '"llama3.2" does not support decision'),
            ({"keep_alive": "soon"}, 400, 'time: invalid duration "soon"'),
        ]
        for change, status, error in cases:
            reply = await _systemone(api, **change)
            assert (reply.status, reply.json()) == (status, {"error": error}), change
        typed = await api.post("/v1/systemone", {"model": 1})
        assert typed.json()["error"] == (
            "json: cannot unmarshal number into Go struct field SystemOneRequest.model of "
            "type string")
        assert (await api.post("/api/chat", {"model": "nimble", "messages": []})).json() == {
            "error": '"nimble" does not support chat'}


# ------------------------------------------------------------- where the server differed


async def test_roles_are_lowercased_and_developer_is_accepted(api: Api) -> None:
    reply = await api.post("/api/chat", {
        "model": "llama3.2", "stream": False,
        "messages": [{"role": "Developer", "content": "be brief"},
                     {"role": "User", "content": "hello there"}]})
    assert reply.status == 200
    assert reply.json()["message"]["content"] == "Echo: hello there"


async def test_show_keeps_arrays_of_five_items_or_fewer(api: Api) -> None:
    info = (await api.post("/api/show", {"model": "llama3.2"})).json()["model_info"]
    assert info["tokenizer.ggml.merges"] == ["Ġ t", "Ġ a", "i n"]  # three items: kept
    assert info["tokenizer.ggml.token_type"] == []  # twelve: emptied
    verbose = (await api.post("/api/show", {"model": "llama3.2", "verbose": True})).json()
    assert len(verbose["model_info"]["tokenizer.ggml.token_type"]) == 12


async def test_the_local_route_proxies_without_the_callers_key(
    api: Api, http: aiohttp.ClientSession
) -> None:
    async with OllamaEmulator() as cloud:
        api.emulator.state.cloud_url = cloud.url
        reply = await api.session.post(
            api.emulator.url + "/api/experimental/web_search", json={"query": "q"},
            headers={"Authorization": "Bearer caller-key", "X-Team": "blue"})
        async with reply:
            assert reply.status == 200
            assert len((await reply.json())["results"]) == 5
        (forwarded,) = cloud.requests
        assert forwarded.path == "/api/web_search" and forwarded.json == {"query": "q"}
        assert forwarded.has_header("Authorization", "Bearer emulator-server-signature")
        assert not forwarded.has_header("Authorization", "Bearer caller-key")
        assert "X-Team" not in forwarded.headers
        cloud.faults.add(path="/api/web_fetch", status=429, error="slow down")
        limited = await api.post("/api/experimental/web_fetch", {"url": "https://x.org"})
        assert (limited.status, limited.json()) == (429, {"error": "slow down"})
    gone = await api.post("/api/experimental/web_fetch", {"url": "https://x.org"})
    assert gone.status == 502 and gone.json()["error"]
