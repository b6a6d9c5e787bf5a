"""Kimchi model metadata: fetched over HTTP within a hard start-up budget and cached on disk,
so a slow or offline network never delays start-up and the last good list is always at hand.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from kimchi_plugin.provider import tls
from kimchi_plugin.routing.registry import parse_datetime, read_positive_int, read_price, read_text

if TYPE_CHECKING:
    import httpx  # imported when the network is asked: a fresh cache answers without it (~15 ms at start-up)

CACHE_TTL_S = 6 * 3600.0
START_BUDGET_S = 1.5  # longest start-up ever waits for the network
BACKGROUND_DEADLINE_S = 30.0  # a refresh still running after the budget gives up here
HTTP_TIMEOUTS = {"connect": 2.0, "read": 5.0, "write": 5.0, "pool": 2.0}
MAX_BODY_BYTES = 4 * 1024 * 1024  # also the largest cache file read
# Models kept from one answer: the Kimchi catalogue lists a few dozen; a listing of thousands (a misconfigured proxy,
# another vendor's catalogue) would make every registry build and the config patch grow with it.
MAX_MODELS = 500
MAX_SLUG_CHARS = 200
CACHE_FORMAT = 1
CACHE_SUBDIR = "opencode-kimchi"
CACHE_KEY_CHARS = 12
METADATA_PATH = "v1/models/metadata"
METADATA_QUERY = "include_in_cli=true"
# Path tails of an OpenAI-compatible base URL that are not part of the service root.
_API_PATH_TAILS = (("openai", "v1"), ("v1",))
_SLUG = re.compile(r"^[^\s]+$")

_log = logging.getLogger(__name__)
# Background refreshes, held so the event loop does not drop them while nobody awaits.
_pending: set[asyncio.Task[CatalogResult]] = set()


class Source(str, Enum):
    """Where a catalog result came from."""

    NETWORK = "network"
    CACHE = "cache"  # fresh enough that the network was not asked
    STALE_CACHE = "stale-cache"  # the network failed or was too slow: last good copy, any age
    NONE = "none"


@dataclass(frozen=True, slots=True)
class CatalogResult:
    """Models as mappings with ModelSpec field names, ready for `Registry.build(api_models=...)`.

    `refresh` is set when the network did not answer within the budget: it keeps running (bounded by
    its own deadline), updates the cache on success and resolves to the newer result.
    """

    models: tuple[dict[str, Any], ...]
    source: Source
    fetched_at: float | None = None
    refresh: asyncio.Task[CatalogResult] | None = None


class CatalogError(Exception):
    """The metadata endpoint gave no usable answer (the message never holds the API key)."""


def metadata_url(base_url: str) -> str:
    """The metadata endpoint for an LLM base URL: `https://h/openai/v1` → `https://h/v1/models/metadata?...`."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("LLM base URL must be an absolute http(s) URL")
    segments = [segment for segment in parts.path.split("/") if segment]
    for tail in _API_PATH_TAILS:
        if tuple(segment.lower() for segment in segments[-len(tail) :]) == tail:
            segments = segments[: -len(tail)]
            break
    path = "/" + "/".join([*segments, METADATA_PATH])
    return urlunsplit((parts.scheme, parts.netloc, path, METADATA_QUERY, ""))


def default_cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    """`$XDG_CACHE_HOME/opencode-kimchi`, else `~/.cache/opencode-kimchi`."""
    root = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / CACHE_SUBDIR


def fetch_expected(env: Mapping[str, str], now: float) -> bool:
    """Whether a start is likely to ask the network: no cache file under the cache directory written within the TTL
    (file times, read before the config says which base URL: a hint to prepare the fetch early, never to skip it)."""
    try:
        with os.scandir(default_cache_dir(env)) as entries:
            times = [entry.stat().st_mtime for entry in entries if entry.name.startswith("models-")]
    except (OSError, RuntimeError):  # no cache directory yet (a first start), or no home directory
        return True
    return not any(0 <= now - written < CACHE_TTL_S for written in times)


def cache_path(base_url: str, cache_dir: Path) -> Path:
    """One cache file per LLM base URL."""
    digest = hashlib.sha256(base_url.strip().encode()).hexdigest()[:CACHE_KEY_CHARS]
    return cache_dir / f"models-{digest}.json"


def parse_models(payload: object) -> tuple[list[Mapping[str, Any]], tuple[dict[str, Any], ...]]:
    """(kept raw entries, their normalised form) from a response body; bad entries are skipped, and past MAX_MODELS
    usable ones the rest is dropped with a warning.

    Raises CatalogError when the body is not `{"models": [...]}` or holds no usable entry.
    """
    entries = payload.get("models") if isinstance(payload, Mapping) else None
    if not isinstance(entries, list):
        raise CatalogError("response has no 'models' list")
    kept: list[Mapping[str, Any]] = []
    models: list[dict[str, Any]] = []
    seen: set[str] = set()
    for raw in entries:
        model = _parse_entry(raw)
        if model is None or model["id"] in seen:
            continue
        if len(models) == MAX_MODELS:
            _log.warning("model catalog lists %d entries; only the first %d models are used", len(entries), MAX_MODELS)
            break
        seen.add(model["id"])
        kept.append(raw)
        models.append(model)
    if not models:
        raise CatalogError("response holds no usable model")
    return kept, tuple(models)


async def load_models(
    base_url: str,
    api_key: str | None,
    *,
    cache_dir: Path | None = None,
    ttl_s: float = CACHE_TTL_S,
    budget_s: float = START_BUDGET_S,
    deadline_s: float = BACKGROUND_DEADLINE_S,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], float] = time.time,
    env: Mapping[str, str] = os.environ,
) -> CatalogResult:
    """The model list: fresh cache, else network within `budget_s`, else the last good copy.

    Never raises for network, HTTP, body or cache problems; they are logged without the key. `env` locates the
    cache when `cache_dir` is not given.
    """
    try:
        url = metadata_url(base_url)
        path = cache_path(base_url, cache_dir or default_cache_dir(env))
    except (ValueError, RuntimeError) as exc:  # RuntimeError: no home directory to cache in
        _log.warning("model catalog disabled: %s", exc)
        return CatalogResult((), Source.NONE)
    cached = _read_cache(path)
    if cached is not None and cached.fetched_at is not None and 0 <= now() - cached.fetched_at < ttl_s:
        return cached
    fallback = replace(cached, source=Source.STALE_CACHE) if cached else CatalogResult((), Source.NONE)
    if not api_key:
        return fallback
    task = asyncio.create_task(_refresh(url, api_key, path, fallback, deadline_s, transport, now))
    _pending.add(task)
    task.add_done_callback(_pending.discard)
    try:
        done, _ = await asyncio.wait({task}, timeout=budget_s)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        return task.result()
    _log.info("model catalog: network slower than %.1fs, refreshing in the background", budget_s)
    return replace(fallback, refresh=task)


async def _refresh(
    url: str,
    api_key: str,
    path: Path,
    fallback: CatalogResult,
    deadline_s: float,
    transport: httpx.BaseTransport | None,
    now: Callable[[], float],
) -> CatalogResult:
    try:
        body = await asyncio.wait_for(_fetch(url, api_key, transport, deadline_s), timeout=deadline_s)
        kept, models = parse_models(json.loads(body))
    except Exception as exc:
        _log.warning("model catalog fetch failed (%s): %s", type(exc).__name__, _redact(str(exc), api_key))
        return fallback
    fetched_at = now()
    try:
        _write_cache(path, kept, fetched_at)
    except OSError as exc:
        _log.warning("model catalog cache not written (%s)", type(exc).__name__)
    return CatalogResult(models, Source.NETWORK, fetched_at)


async def _fetch(url: str, api_key: str, transport: httpx.BaseTransport | None, deadline_s: float) -> bytes:
    """The body, fetched by httpx's blocking client on a daemon thread: its asynchronous client would import anyio
    (~16 ms of CPU on the way to a first start's `config` answer). A caller that stops waiting (the deadline, a
    cancel) stops the thread at its next chunk; a thread still in a read then ends with its HTTP timeouts, without
    holding up the process's exit."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()
    given_up = threading.Event()
    answer.add_done_callback(lambda _: given_up.set())

    def settle(body: bytes | None, error: BaseException | None) -> None:
        if answer.done():  # the caller stopped waiting
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(body or b"")

    def fetch() -> None:
        try:
            body, error = _fetch_blocking(url, api_key, transport, time.monotonic() + deadline_s, given_up), None
        except Exception as exc:
            body, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, body, error)
        except RuntimeError:  # the loop has closed: nobody waits
            pass

    threading.Thread(target=fetch, name="kimchi-catalog", daemon=True).start()
    return await answer


def _fetch_blocking(
    url: str, api_key: str, transport: httpx.BaseTransport | None, deadline: float, given_up: threading.Event
) -> bytes:
    """The GET itself; past `deadline` (monotonic) or once the caller has `given_up`, it stops between chunks (a
    trickling server keeps each read within its timeout for as long as it likes)."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    verify = tls.context() if transport is None else True  # a transport given brings its own
    client = httpx.Client(timeout=httpx.Timeout(**HTTP_TIMEOUTS), transport=transport, verify=verify)
    with client, client.stream("GET", url, headers=headers) as response:
        if response.status_code != httpx.codes.OK:
            raise CatalogError(f"HTTP {response.status_code}")
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise CatalogError("response too large")
            if given_up.is_set() or time.monotonic() > deadline:
                raise CatalogError("deadline passed")
        return bytes(body)


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def _read_cache(path: Path) -> CatalogResult | None:
    try:
        if path.stat().st_size > MAX_BODY_BYTES:
            _log.warning("model catalog cache larger than %d bytes ignored", MAX_BODY_BYTES)
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
        fetched_at = document["fetched_at"]
        if document.get("format") != CACHE_FORMAT or not isinstance(fetched_at, (int, float)):
            return None
        _, models = parse_models(document)
    except (OSError, ValueError, KeyError, TypeError, CatalogError):
        return None
    return CatalogResult(models, Source.CACHE, float(fetched_at))


def _write_cache(path: Path, entries: list[Mapping[str, Any]], fetched_at: float) -> None:
    """Write atomically: a reader sees the old file or the new one, never a torn one."""
    import tempfile  # with shutil and random: only a fetch writes (a start with a fresh cache reads alone)

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump({"format": CACHE_FORMAT, "fetched_at": fetched_at, "models": entries}, stream)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _parse_entry(raw: object) -> dict[str, Any] | None:
    """Normalised model from one API entry, or None when it is unusable or malformed."""
    if not isinstance(raw, Mapping) or raw.get("tool_call") is False or raw.get("is_routable") is False:
        return None
    slug = raw.get("slug")
    limits = raw.get("limits")
    if not (isinstance(slug, str) and _SLUG.match(slug) and len(slug) <= MAX_SLUG_CHARS):
        return None
    if not isinstance(limits, Mapping):
        return None
    context_window = read_positive_int(limits.get("context_window"))
    max_output = read_positive_int(limits.get("max_output_tokens"))
    if context_window is None or max_output is None:
        return None
    model: dict[str, Any] = {"id": slug, "context_window": context_window, "max_output": max_output}
    pricing_raw = raw.get("pricing")
    pricing: Mapping[str, Any] = pricing_raw if isinstance(pricing_raw, Mapping) else {}
    modalities = raw.get("input_modalities")
    images = raw.get("supports_images")
    if not isinstance(images, bool) and isinstance(modalities, list):
        images = "image" in modalities
    optional = {
        "name": read_text(raw.get("display_name")),
        "reasoning": raw.get("reasoning") if isinstance(raw.get("reasoning"), bool) else None,
        "images": images if isinstance(images, bool) else None,
        "tool_call": raw.get("tool_call") if isinstance(raw.get("tool_call"), bool) else None,
        "cost_input": read_price(pricing.get("input_per_1m")),
        "cost_output": read_price(pricing.get("output_per_1m")),
        "cost_cache_read": read_price(pricing.get("cache_read_per_1m")),
        "cost_cache_write": read_price(pricing.get("cache_write_per_1m")),
        "deprecated_at": parse_datetime(raw.get("deprecated_at")),
        "sunset_at": parse_datetime(raw.get("sunset_at")),
        "replacement": read_text(raw.get("replacement_model")),
        "deprecation_note": read_text(raw.get("deprecation_note")),
    }
    model.update((name, value) for name, value in optional.items() if value is not None)
    return model
