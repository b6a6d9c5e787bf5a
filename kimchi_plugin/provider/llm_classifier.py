"""Second opinion for messages the heuristics are unsure about: one tiny chat completion on the cheapest model.

Hard overall deadline (a per-read timeout is not a deadline: a trickling server can keep a request alive) that nests
with margin inside the `chat.message` budget, answers cached by message hash, and every failure (timeout, HTTP error,
nonsense) is simply "no opinion". After repeated failures the classifier is skipped for a while (a circuit breaker),
so a dead endpoint does not cost every vague message its full deadline.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from kimchi_plugin.lru import Lru
from kimchi_plugin.routing.tiers import Tier

if TYPE_CHECKING:
    import httpx

log = structlog.get_logger("kimchi.llm")

# `chat.message` has 1.5 s (PROTOCOL.md); parsing, routing, the reply and a loaded machine's timer lag need the rest.
MAX_DEADLINE_S = 1.0
FAILURES_TO_OPEN = 3  # consecutive failures that pause the classifier
PAUSE_S = 60.0  # first pause; doubled after each failed trial call, up to MAX_PAUSE_S
MAX_PAUSE_S = 600.0
CACHE_SIZE = 512
MESSAGE_CHARS = 1200  # what of the message the classifier sees
PREVIOUS_CHARS = 300  # what of the previous user turn it sees, for context
# From the classifier's creation (the first `config`) to its HTTP client's build on a thread: past the seconds in which
# OpenCode starts, awaits the first decision and the first step's hooks, which that build's CPU would slow down.
PREPARE_AFTER_S = 3.0
INSTRUCTION = (
    "Route a coding-assistant message to one model tier. Answer with one word.\n"
    "reasoning: planning, architecture, trade-offs, diagnosing failures with unknown cause, code review, security.\n"
    "coding: writing or changing code, features, fixes with a known cause, refactoring, tests, config.\n"
    "quick: simple questions, lookups, where/which/what-is, short explanations, summaries, confirmations."
)


def parse_tier(content: object) -> Tier | None:
    """The tier named at the start of a reply ("Coding." and "coding - because" both count)."""
    if not isinstance(content, str):
        return None
    word = content.strip().lower().lstrip("*`\"' ")
    for tier in Tier:
        if word.startswith(tier.value):
            return tier
    return None


class Breaker:
    """Skips calls for a while after FAILURES_TO_OPEN consecutive failures; then lets one trial call through, which
    closes it on success or pauses twice as long on failure."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures = 0
        self._pause = PAUSE_S
        self._open_until: float | None = None

    def allows(self) -> bool:
        return self._open_until is None or self._clock() >= self._open_until

    def success(self) -> None:
        if self._open_until is not None:
            log.info("llm classifier resumed")
        self._failures, self._pause, self._open_until = 0, PAUSE_S, None

    def failure(self) -> None:
        self._failures += 1
        if self._open_until is not None:  # the trial call failed
            self._pause = min(self._pause * 2, MAX_PAUSE_S)
        elif self._failures < FAILURES_TO_OPEN:
            return
        self._open_until = self._clock() + self._pause
        log.info("llm classifier paused after repeated failures", failures=self._failures, pause_s=self._pause)


class LlmClassifier:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model_id: str,
        deadline_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._model = model_id
        self._deadline = min(deadline_s, MAX_DEADLINE_S)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._client_lock = threading.Lock()
        self._cache: Lru[str, tuple[Tier | None]] = Lru(CACHE_SIZE)
        self._asked = False  # whether the client has sent a request (has connections to close)
        self._closed = False  # set by close: a client built after it is dropped, a waiting question gets no opinion
        self.breaker = Breaker(clock)
        # httpx's import and a client's TLS set-up take ~50-130 ms of CPU, which cannot be interrupted: done on a
        # thread, never on the event loop; ahead of time once the start is over, or when a vague message comes first.
        self._prepare = threading.Timer(PREPARE_AFTER_S, self._http_client)
        self._prepare.name, self._prepare.daemon = "kimchi-llm-client", True
        self._prepare.start()

    def _http_client(self) -> httpx.AsyncClient | None:
        """The client, built once (on a thread: the timer's or a waiting question's); None once closed. `close` does
        not take the lock, so that it never waits for a build on the event loop: a build that ends after it is
        dropped (it has sent nothing, so there is nothing to close)."""
        with self._client_lock:
            if self._client is None and not self._closed:
                import httpx

                self._client = httpx.AsyncClient(
                    transport=self._transport,
                    timeout=httpx.Timeout(self._deadline, connect=min(self._deadline, 0.5)),
                    limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
                    verify=self._url.startswith("https:"),  # no certificates to load for a plain-HTTP endpoint
                )
            if self._closed:
                self._client = None
            return self._client

    async def __call__(self, text: str, previous: str) -> Tier | None:
        key = hashlib.sha256(f"{previous[-PREVIOUS_CHARS:]}\x00{text[:MESSAGE_CHARS]}".encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None:
            return cached[0]
        if not self.breaker.allows():
            log.debug("llm classifier skipped: paused after repeated failures")
            return None
        try:
            tier = await asyncio.wait_for(self._ask(text, previous), self._deadline)
        except asyncio.TimeoutError:
            log.info("llm classifier timed out", deadline_s=self._deadline)
            self.breaker.failure()
            return None
        except Exception as exc:  # HTTP errors and any nonsense in the answer: no opinion
            log.info("llm classifier failed", error=type(exc).__name__)
            self.breaker.failure()
            return None
        self.breaker.success()
        self._cache.put(key, (tier,))
        return tier

    async def _ask(self, text: str, previous: str) -> Tier | None:
        client = self._client
        if client is None:
            client = await asyncio.to_thread(self._http_client)
        if client is None or self._closed:  # closed while the client was being built: no opinion
            return None
        self._asked = True
        context = f"Previous user message: {previous[-PREVIOUS_CHARS:]}\n" if previous else ""
        body = {
            "model": self._model,
            "messages": [
                {"role": "system", "content": INSTRUCTION},
                {"role": "user", "content": f"{context}Message: {text[:MESSAGE_CHARS]}"},
            ],
            "max_tokens": 5,
            "temperature": 0,
            "stream": False,
        }
        response = await client.post(self._url, json=body, headers=self._headers)
        response.raise_for_status()
        return parse_tier(response.json()["choices"][0]["message"]["content"])

    async def close(self) -> None:
        """Close the client's connections. A client that never sent a request holds none, and its `aclose` would
        import anyio's backend (~30 ms, at end of input): it is just dropped. A build under way is not
        waited for: it drops its own client once it sees the flag."""
        self._closed = True
        self._prepare.cancel()
        client, self._client = self._client, None
        if client is not None and self._asked:
            await client.aclose()
