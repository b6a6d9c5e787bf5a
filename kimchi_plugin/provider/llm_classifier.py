"""Second opinion for messages the heuristics are unsure about: one tiny chat completion on the cheapest model.

Hard overall deadline (a per-read timeout is not a deadline: a trickling server can keep a request alive), answers
cached by message hash, and every failure (timeout, HTTP error, nonsense) is simply "no opinion".
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict

import httpx
import structlog

from kimchi_plugin.routing.tiers import Tier

log = structlog.get_logger("kimchi.llm")

CACHE_SIZE = 512
MESSAGE_CHARS = 1200  # what of the message the classifier sees
PREVIOUS_CHARS = 300  # what of the previous user turn it sees, for context
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


class LlmClassifier:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model_id: str,
        deadline_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._model = model_id
        self._deadline = deadline_s
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._cache: OrderedDict[str, Tier | None] = OrderedDict()

    async def __call__(self, text: str, previous: str) -> Tier | None:
        key = hashlib.sha256(f"{previous[-PREVIOUS_CHARS:]}\x00{text[:MESSAGE_CHARS]}".encode()).hexdigest()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        try:
            tier = await asyncio.wait_for(self._ask(text, previous), self._deadline)
        except asyncio.TimeoutError:
            log.info("llm classifier timed out", deadline_s=self._deadline)
            return None
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            log.info("llm classifier failed", error=type(exc).__name__)
            return None
        self._cache[key] = tier
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return tier

    async def _ask(self, text: str, previous: str) -> Tier | None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(self._deadline, connect=min(self._deadline, 0.5)),
                limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
            )
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
        response = await self._client.post(self._url, json=body, headers=self._headers)
        response.raise_for_status()
        return parse_tier(response.json()["choices"][0]["message"]["content"])

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
