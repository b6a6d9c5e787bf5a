"""Kimchi model catalog: endpoint URL, parsing, disk cache, budgets and secrecy of the API key."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import threading
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from kimchi_plugin.provider import catalog as model_catalog
from kimchi_plugin.provider import tls
from kimchi_plugin.provider.catalog import (
    CACHE_FORMAT,
    Source,
    cache_path,
    default_cache_dir,
    load_models,
    metadata_url,
    parse_models,
)
from kimchi_plugin.routing.registry import Registry
from kimchi_plugin.routing.tiers import Tier

BASE_URL = "https://llm.cast.ai/openai/v1"
ENDPOINT = "https://llm.cast.ai/v1/models/metadata?include_in_cli=true"
API_KEY = "sk-kimchi-SECRET-0123456789"
T0 = 1_770_000_000.0


def entry(slug: str, **extra) -> dict:
    model = {
        "slug": slug,
        "display_name": slug.title(),
        "provider": "kimchi",
        "limits": {"context_window": 262_144, "max_output_tokens": 32_768},
        "reasoning": True,
        "supports_images": False,
        "tool_call": True,
        "is_routable": True,
        "pricing": {"input_per_1m": 0.6, "output_per_1m": 3.0},
    }
    model.update(extra)
    return model


GOOD_BODY = {"models": [entry("kimi-k2.5"), entry("minimax-m2.7", reasoning=False)]}


class Api:
    """MockTransport handler that records requests and answers from a queue of responses."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def load(tmp_path: Path, api: Api | None = None, *, now: float = T0, **options):
    options.setdefault("budget_s", 2.0)
    return asyncio.run(
        load_models(
            options.pop("base_url", BASE_URL),
            options.pop("api_key", API_KEY),
            cache_dir=tmp_path,
            transport=api.transport if api else None,
            now=lambda: now,
            **options,
        )
    )


def seed_cache(tmp_path: Path, fetched_at: float, models=None) -> Path:
    path = cache_path(BASE_URL, tmp_path)
    document = {"format": CACHE_FORMAT, "fetched_at": fetched_at, "models": models or [entry("cached-model")]}
    path.write_text(json.dumps(document))
    return path


def model_ids(result) -> list[str]:
    return [model["id"] for model in result.models]


# --- endpoint and cache location -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "url"),
    [
        (BASE_URL, ENDPOINT),
        ("https://llm.cast.ai/openai/v1/", ENDPOINT),
        ("https://llm.cast.ai/v1", ENDPOINT),
        ("https://llm.cast.ai", ENDPOINT),
        (
            "https://gw.example.com:8443/kimchi/openai/v1",
            "https://gw.example.com:8443/kimchi/v1/models/metadata?include_in_cli=true",
        ),
        (
            "https://openai.example.com/openai/v1beta",
            "https://openai.example.com/openai/v1beta/v1/models/metadata?include_in_cli=true",
        ),
    ],
)
def test_metadata_url_is_derived_from_the_url_path(base_url, url):
    assert metadata_url(base_url) == url


@pytest.mark.parametrize("base_url", ["", "llm.cast.ai/openai/v1", "ftp://llm.cast.ai/openai/v1", "https:///v1"])
def test_metadata_url_rejects_non_http_urls(base_url):
    with pytest.raises(ValueError):
        metadata_url(base_url)


def test_cache_location(tmp_path, monkeypatch):
    assert default_cache_dir({"XDG_CACHE_HOME": "/xdg"}) == Path("/xdg/opencode-kimchi")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir({}) == tmp_path / ".cache" / "opencode-kimchi"
    name = cache_path(BASE_URL, tmp_path).name
    assert name.startswith("models-") and len(name) == len("models-") + 12 + len(".json")
    assert cache_path("https://other.example/v1", tmp_path).name != name


# --- parsing ---------------------------------------------------------------------------------------


def test_parse_skips_unusable_and_malformed_entries():
    body = {
        "models": [
            entry("kimi-k2.5"),
            entry("no-tools", tool_call=False),
            entry("not-routable", is_routable=False),
            entry("no limits", limits=None),
            entry("bad-limits", limits={"context_window": "262k", "max_output_tokens": 1}),
            entry("bool-limits", limits={"context_window": True, "max_output_tokens": 1}),
            entry("has space"),
            {"display_name": "no slug"},
            "not an object",
            None,
            entry("kimi-k2.5", display_name="duplicate"),
            entry("glm-5-fp8", pricing={"input_per_1m": -1, "output_per_1m": "3"}, reasoning="yes"),
        ]
    }
    kept, models = parse_models(body)
    assert [model["id"] for model in models] == ["kimi-k2.5", "glm-5-fp8"]
    assert [raw["slug"] for raw in kept] == ["kimi-k2.5", "glm-5-fp8"]
    glm = models[1]
    assert "cost_input" not in glm and "cost_output" not in glm and "reasoning" not in glm


def test_parse_normalises_fields():
    raw = entry(
        "vision-model",
        supports_images=None,
        input_modalities=["text", "image"],
        pricing={"input_per_1m": 1, "output_per_1m": 2.5, "cache_read_per_1m": 0.1, "cache_write_per_1m": 1.25},
        deprecated_at="2026-01-01T00:00:00Z",
        sunset_at="not a date",
        replacement_model="vision-model-2",
        deprecation_note="  moving on  ",
    )
    (_, (model,)) = parse_models({"models": [raw]})
    assert model == {
        "id": "vision-model",
        "name": "Vision-Model",
        "context_window": 262_144,
        "max_output": 32_768,
        "reasoning": True,
        "images": True,
        "tool_call": True,
        "cost_input": 1.0,
        "cost_output": 2.5,
        "cost_cache_read": 0.1,
        "cost_cache_write": 1.25,
        "deprecated_at": datetime(2026, 1, 1, tzinfo=timezone.utc),
        "replacement": "vision-model-2",
        "deprecation_note": "moving on",
    }


@pytest.mark.parametrize("body", [[], {"data": []}, {"models": {}}, {"models": [entry("x", tool_call=False)]}])
def test_parse_rejects_bodies_without_usable_models(body):
    with pytest.raises(model_catalog.CatalogError):
        parse_models(body)


# --- network, cache and fallbacks ------------------------------------------------------------------


def test_success_fetches_with_bearer_key_and_writes_the_cache(tmp_path):
    api = Api(GOOD_BODY)
    result = load(tmp_path, api)
    assert result.source is Source.NETWORK and result.refresh is None
    assert model_ids(result) == ["kimi-k2.5", "minimax-m2.7"]
    (request,) = api.requests
    assert str(request.url) == ENDPOINT
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    document = json.loads(cache_path(BASE_URL, tmp_path).read_text())
    assert document == {"format": CACHE_FORMAT, "fetched_at": T0, "models": GOOD_BODY["models"]}
    assert sorted(path.name for path in tmp_path.iterdir()) == [cache_path(BASE_URL, tmp_path).name]


def test_a_fetch_slower_than_the_budget_goes_on_without_holding_the_event_loop(tmp_path):
    """The request blocks (its thread, not the loop): start-up gets the fallback at the budget, the refresh completes
    once the server answers; a refresh given up on (cancelled) ends quietly when its answer comes."""
    seed_cache(tmp_path, fetched_at=T0 - 7200)
    answered = threading.Event()
    api = Api(GOOD_BODY)

    def slow(request: httpx.Request) -> httpx.Response:
        answered.wait()
        return api(request)

    async def start_then_answer() -> tuple[object, object]:
        transport = httpx.MockTransport(slow)
        first = await load_models(
            BASE_URL, API_KEY, cache_dir=tmp_path, transport=transport, now=lambda: T0, budget_s=0.01, ttl_s=3600
        )
        abandoned = await load_models(
            BASE_URL, API_KEY, cache_dir=tmp_path, transport=transport, now=lambda: T0, budget_s=0.01, ttl_s=3600
        )
        assert abandoned.refresh is not None
        abandoned.refresh.cancel()
        answered.set()
        assert first.refresh is not None
        return first, await first.refresh

    first, refreshed = asyncio.run(start_then_answer())
    assert (first.source, model_ids(first)) == (Source.STALE_CACHE, ["cached-model"])
    assert (refreshed.source, model_ids(refreshed)) == (Source.NETWORK, ["kimi-k2.5", "minimax-m2.7"])


def test_a_fetch_given_up_on_stops_reading_at_its_next_chunk(tmp_path):
    """A trickling server keeps each read within its timeout: once the caller stops waiting, the thread reads no
    further chunk."""
    seed_cache(tmp_path, fetched_at=T0 - 7200)
    first_chunk_sent, go_on = threading.Event(), threading.Event()
    sent: list[bytes] = []
    fetching: list[threading.Thread] = []

    def trickle():
        for chunk in (b'{"models": [', b"]}", b" " * 10):
            sent.append(chunk)
            if len(sent) == 1:
                first_chunk_sent.set()
            else:
                go_on.wait()
            yield chunk

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=trickle())

    async def give_up() -> None:
        result = await load_models(
            BASE_URL,
            API_KEY,
            cache_dir=tmp_path,
            transport=httpx.MockTransport(handler),
            now=lambda: T0,
            budget_s=0.01,
            ttl_s=3600,
        )
        assert result.refresh is not None
        await asyncio.to_thread(first_chunk_sent.wait)
        fetching.extend(thread for thread in threading.enumerate() if thread.name == "kimchi-catalog")
        result.refresh.cancel()
        await asyncio.gather(result.refresh, return_exceptions=True)  # its wait cancelled the fetch's future
        await asyncio.sleep(0)  # whose done callback tells the thread

    asyncio.run(give_up())
    go_on.set()
    for thread in fetching:
        thread.join(timeout=10)
    assert sent == [b'{"models": [', b"]}"]  # the chunk under way when it gave up, and no further one


def test_fresh_cache_is_used_without_the_network(tmp_path):
    seed_cache(tmp_path, fetched_at=T0 - 60)
    api = Api(GOOD_BODY)
    result = load(tmp_path, api, ttl_s=3600)
    assert (result.source, model_ids(result), result.fetched_at) == (Source.CACHE, ["cached-model"], T0 - 60)
    assert api.requests == []


@pytest.mark.parametrize("age", [3601, -120])  # expired, or written "in the future" by a skewed clock
def test_cache_outside_its_ttl_is_refreshed(tmp_path, age):
    path = seed_cache(tmp_path, fetched_at=T0 - age)
    result = load(tmp_path, Api(GOOD_BODY), ttl_s=3600)
    assert result.source is Source.NETWORK
    assert json.loads(path.read_text())["fetched_at"] == T0


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, text="boom"),
        httpx.Response(401, json={"error": "unauthorized"}),
        httpx.Response(302, headers={"Location": "https://elsewhere.example/"}),
        httpx.Response(200, text="{not json"),
        httpx.Response(200, content=b"\xff\xfe\x00"),
        httpx.Response(200, json={"models": [entry("broken", limits={})]}),
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectError("connection refused"),
    ],
    ids=["500", "401", "redirect", "bad-json", "bad-bytes", "no-usable-entry", "timeout", "connect"],
)
def test_failures_fall_back_to_the_last_good_copy_whatever_its_age(tmp_path, failure):
    assert load(tmp_path, Api(failure)).source is Source.NONE
    path = seed_cache(tmp_path, fetched_at=T0 - 90 * 86400)
    before = path.read_bytes()
    result = load(tmp_path, Api(failure), ttl_s=3600)
    assert (result.source, model_ids(result)) == (Source.STALE_CACHE, ["cached-model"])
    assert path.read_bytes() == before


def test_oversized_body_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(model_catalog, "MAX_BODY_BYTES", 100)
    assert load(tmp_path, Api(GOOD_BODY)).source is Source.NONE


def test_corrupt_cache_is_ignored(tmp_path):
    path = cache_path(BASE_URL, tmp_path)
    for content in ("{torn", json.dumps({"format": 99, "fetched_at": T0, "models": [entry("m")]}), "[]"):
        path.write_text(content)
        assert load(tmp_path, Api(httpx.ConnectError("offline"))).source is Source.NONE
    assert load(tmp_path, Api(GOOD_BODY)).source is Source.NETWORK


def test_without_a_key_the_network_is_not_asked(tmp_path):
    api = Api(GOOD_BODY)
    assert load(tmp_path, api, api_key="").source is Source.NONE
    seed_cache(tmp_path, fetched_at=T0 - 86400)
    assert load(tmp_path, api, api_key=None, ttl_s=60).source is Source.STALE_CACHE
    assert api.requests == []


def test_invalid_base_url_gives_nothing(tmp_path):
    result = load(tmp_path, Api(GOOD_BODY), base_url="not a url")
    assert (result.source, result.models) == (Source.NONE, ())


def test_unwritable_cache_still_returns_the_network_result(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache directory should be")
    result = asyncio.run(
        load_models(BASE_URL, API_KEY, cache_dir=blocker / "sub", transport=Api(GOOD_BODY).transport, now=lambda: T0)
    )
    assert result.source is Source.NETWORK


def test_catalog_models_feed_the_registry(tmp_path):
    result = load(tmp_path, Api({"models": [entry("kimi-k2.5", pricing={"input_per_1m": 0.5, "output_per_1m": 2.0}),
                                            entry("mystery-model", reasoning=False)]}))  # fmt: skip
    registry = Registry.build(
        provider_models={"minimax-m2.7": {}}, api_models=result.models, pins=None, priorities=None,
        now=datetime(2026, 3, 1, tzinfo=timezone.utc),
    )  # fmt: skip
    assert registry.get("kimi-k2.5").cost_input == 0.5
    assert [spec.id for spec in registry.ranked(Tier.QUICK)] == ["kimi-k2.5", "minimax-m2.7"]
    assert [spec.id for spec in registry.ranked(Tier.CODING)][-1] == "mystery-model"


# --- the API key stays secret ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError(f"cannot reach host with Bearer {API_KEY}"),
        ValueError(f"weird {API_KEY}"),
        httpx.Response(403, text=f"key {API_KEY} is not allowed"),
        httpx.Response(200, text=f"not json {API_KEY}"),
    ],
    ids=["transport-error", "odd-error", "403", "bad-body"],
)
def test_api_key_never_reaches_logs_or_results(tmp_path, caplog, failure):
    caplog.set_level(logging.DEBUG)
    result = load(tmp_path, Api(failure))
    assert result.source is Source.NONE
    assert caplog.records, "a failure is logged"
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(result)


def test_a_fetch_is_expected_without_a_cache_written_within_the_ttl(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    assert model_catalog.fetch_expected(env, T0)  # a first start: no cache directory yet
    folder = default_cache_dir(env)
    folder.mkdir()
    (folder / "unrelated.json").write_text("{}")
    assert model_catalog.fetch_expected(env, T0)
    cached = cache_path(BASE_URL, folder)
    cached.write_text("{}")
    os.utime(cached, (T0 - 60, T0 - 60))
    assert not model_catalog.fetch_expected(env, T0)
    os.utime(cached, (T0 - model_catalog.CACHE_TTL_S - 1,) * 2)
    assert model_catalog.fetch_expected(env, T0)


def test_the_tls_context_is_built_once_whichever_thread_builds_it():
    tls.prepare()
    first = tls.context()
    assert tls.context() is first
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname


def test_the_tls_context_reads_the_bundle_ssl_cert_file_names(tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(FileNotFoundError):
        tls._default_context()
