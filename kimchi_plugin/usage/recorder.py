"""What the hook layer calls to account for usage: per-session totals for the in-OpenCode summary, rows for the local
stats database and, when opted in, OTLP telemetry. Every method is quick (in-memory work or an enqueue) and never
raises: accounting must not break a hook.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import structlog

from kimchi_plugin import __version__
from kimchi_plugin.lru import Lru
from kimchi_plugin.usage.ledger import UNROUTED, SessionLedger, pinned_usage
from kimchi_plugin.usage.payload import AssistantMessage, as_text, parse_assistant
from kimchi_plugin.usage.prices import Baselines, Prices, Usage, baselines, effective_cost
from kimchi_plugin.usage.store import REPEAT_NOTE, TurnRow, UsageStore, default_db_path, session_rows
from kimchi_plugin.usage.telemetry import (
    COMMIT_COUNT,
    COST_USAGE,
    EDIT_DECISION,
    LINES_OF_CODE,
    PULL_REQUEST_COUNT,
    TOKEN_USAGE,
    Attributes,
    Telemetry,
)
from kimchi_plugin.usage.telemetry_config import TelemetryConfig, resolve_config
from kimchi_plugin.usage.tool_effects import ToolEffects, tool_effects

log = structlog.get_logger("kimchi.usage")

MAX_SESSIONS = 500  # ledgers kept in memory; the least recently active beyond this are forgotten
MAX_ROUTES = 4096  # user message id → routing decision, for attributing the replies
MAX_LOGGED = 8192  # completed message ids already sent as log records
CLOSE_TIMEOUT_S = 3.0
MEMORY_ONLY_NOTE = "(usage database unreadable: this process's figures only)"
EDIT_DECISION_ACCEPT = "accept"  # OpenCode reports only tool calls that ran, i.e. accepted edits
TOKEN_TYPES = (
    ("input", "input"),
    ("output", "output"),
    ("reasoning", "reasoning"),
    ("cache_read", "cacheRead"),
    ("cache_write", "cacheCreation"),
)


@dataclass(frozen=True, slots=True)
class RouteTag:
    """The routing decision a reply belongs to."""

    tier: str
    profile: str
    source: str
    model_id: str
    agent: str | None = None
    cache_saved_usd: float = 0.0  # what the decision saved by staying on a warm cache (routing.switch_cost)


class UsageRecorder:
    """Per-session accounting fed by OpenCode events, fanned out to the stats database and telemetry."""

    def __init__(
        self,
        *,
        telemetry: TelemetryConfig | None = None,
        provider: str = "kimchi",
        store_path: str | None = None,
        prices: Prices | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.provider = provider
        self.prices = prices or Prices()
        self._clock = clock
        self.telemetry = (
            Telemetry(
                telemetry,
                clock=clock,
                resource=(
                    ("opencode_kimchi.version", __version__),
                    ("service.instance.id", uuid.uuid4().hex),  # tells apart OpenCode processes working on one session
                ),
            )
            if telemetry is not None
            else None
        )
        self.store = UsageStore(store_path, clock=clock) if store_path else None
        self._ledgers: Lru[str, SessionLedger] = Lru(MAX_SESSIONS)
        self._parents: Lru[str, str] = Lru(MAX_SESSIONS)  # child session → parent
        self._children: Lru[str, list[str]] = Lru(MAX_SESSIONS)  # parent session → children
        self._routes: Lru[str, RouteTag] = Lru(MAX_ROUTES)
        self._logged: Lru[str, bool] = Lru(MAX_LOGGED)
        self._credited: Lru[str, str] = Lru(MAX_ROUTES)  # user message id → the reply carrying its cache saving
        self.errors = 0
        self._failures: dict[str, int] = {}  # swallowed failures by cause

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        env: Mapping[str, str] = os.environ,
        store_path: str | None = None,
        prices: Prices | None = None,
        clock: Callable[[], float] = time.time,
    ) -> UsageRecorder:
        """Build from plugin settings (`telemetry`, `logsEndpoint`, `metricsEndpoint`, `stats`, `provider`)."""
        config, warnings = resolve_config(
            option=bool(getattr(settings, "telemetry", False)),
            logs_endpoint=getattr(settings, "logsEndpoint", None),
            metrics_endpoint=getattr(settings, "metricsEndpoint", None),
            env=env,
        )
        for warning in warnings:
            log.warning(warning)
        if config is not None:
            log.info("telemetry on", logs=config.logs_endpoint is not None, metrics=config.metrics_endpoint is not None)
        path = (store_path or default_db_path(env)) if getattr(settings, "stats", True) else None
        return cls(
            telemetry=config,
            provider=getattr(settings, "provider", "kimchi"),
            store_path=path,
            prices=prices,
            clock=clock,
        )

    # events ------------------------------------------------------------------------------------------------------
    def set_prices(self, prices: Prices) -> None:
        """New model prices (after a registry refresh); applies to messages from now on."""
        self.prices = prices

    def on_route(self, user_message_id: str, route: RouteTag) -> None:
        """Remember the decision for a user message (chat.message); its replies (parentID) are attributed to it. The
        stats database is opened now, while the model answers, for the rows those replies will bring."""
        if user_message_id:
            self._routes.put(user_message_id, route)
        if self.store is not None:
            self.store.open()

    def on_session_created(self, session_id: str, parent_id: str | None) -> None:
        """Note a child session's parent, so stats for a session include its subagents."""
        if session_id and parent_id:
            self._parents.put(session_id, parent_id)
            siblings = self._children.get(parent_id) or []
            if session_id not in siblings:
                self._children.put(parent_id, [*siblings, session_id])

    def on_assistant_message(self, info: Mapping[str, Any], route: RouteTag | None = None) -> None:
        """A `message.updated` event. Repeated updates of one message replace each other; nothing counts twice.

        The reply is attributed to the decision recorded by `on_route` for its parent user message; `route` is used
        only when there is none (e.g. after a restart)."""
        try:
            message = parse_assistant(info)
            if message is None:
                return
            if message.provider != self.provider:
                return  # not our traffic: other providers' calls are neither recorded nor sent
            # The decision for the user message this replies to wins; `route` is the fallback.
            parent = as_text(info.get("parentID")) or ""
            route = self._routes.get(message.id) or self._routes.get(parent) or route
            if route is not None:
                self._routes.put(message.id, route)
            usage = replace(message.usage, cost=effective_cost(message.usage, self.prices.get(message.model)))
            ledger = self._ledger(message.session_id)
            pinned = pinned_usage(usage, message.model, message.created_ms, ledger.predecessor(message.id))
            base = baselines(pinned, self.prices)
            saved = self._cache_saving(parent, message.id, route)
            delta = ledger.apply(message, usage, route.tier if route else None, base, saved)
            if self.telemetry is not None:
                self._usage_metrics(self.telemetry, message, delta.clamped())
            if message.completed:
                ledger.note_completed(message, usage)
                self._completed(message, usage, route, base, saved)
        except Exception as exc:
            self._failed("message", exc)

    def on_tool_after(
        self, session_id: str, tool: str, args: Mapping[str, Any], output: str, metadata: Mapping[str, Any]
    ) -> None:
        """A `tool.execute.after`: commits, pull requests and edits. Never reads file contents beyond line counts."""
        try:
            found = tool_effects(tool, args or {}, output or "", metadata or {})
            if found.empty:
                return
            self._ledger(session_id).apply_tool(found)
            if self.telemetry is not None:
                self._tool_metrics(self.telemetry, session_id, found)
        except Exception as exc:
            self._failed("tool", exc)

    def on_session_idle(self, session_id: str) -> None:
        if self.telemetry is not None:
            self.telemetry.flush()

    def on_session_deleted(self, session_id: str) -> None:
        self._ledgers.pop(session_id)
        if self.telemetry is not None:
            self.telemetry.end_session(session_id)

    # reading -----------------------------------------------------------------------------------------------------
    def ledger(self, session_id: str) -> SessionLedger | None:
        return self._ledgers.get(session_id)

    def session_summary(self, session_id: str) -> str:
        """Plain-text spend, tokens and savings of one session and its subagent sessions (for a tool or command
        inside OpenCode): earlier turns come from the stats database (another process may have served them), this
        process's from memory."""
        from kimchi_plugin.usage.report import format_summary  # asked for by a tool, not at start-up

        try:
            ledger, stored = self._session_tree_ledger(session_id)
            if ledger.messages == 0:
                return "No routed model calls recorded for this session yet."
            text = format_summary(ledger)
            return text if stored else f"{text}\n{MEMORY_ONLY_NOTE}"
        except Exception as exc:
            self._failed("summary", exc)
            return "Usage summary unavailable."

    def stats(self) -> dict[str, int]:
        """Counters for diagnostics: telemetry drops and failures, database drops, swallowed errors."""
        out = {"errors": self.errors}
        if self.telemetry is not None:
            out.update(self.telemetry.stats())
        if self.store is not None:
            out.update(store_written=self.store.written, store_dropped=self.store.dropped)
        return out

    async def flush(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """What must be done before the host may end the process (OpenCode's dispose): telemetry's final export, and
        every queued row committed to the database, within `timeout` seconds each. Closing the database (a checkpoint:
        two syncs to disk) is left to `close`: a process killed before it loses nothing."""
        await self._finish(self.store.flush if self.store is not None else None, timeout)

    async def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Flush telemetry and the database and stop their threads, within `timeout` seconds each."""
        await self._finish(self.store.close if self.store is not None else None, timeout)

    async def _finish(self, store_step: Callable[[float], object] | None, timeout: float) -> None:
        """Telemetry's close and `store_step` at once, each on a thread (each waits on a thread of its own)."""
        steps = [step for step in (self.telemetry.close if self.telemetry else None, store_step) if step is not None]
        results = await asyncio.gather(*(asyncio.to_thread(step, timeout) for step in steps), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                self._failed("close", result)

    # internals ---------------------------------------------------------------------------------------------------
    def _ledger(self, session_id: str) -> SessionLedger:
        ledger = self._ledgers.get(session_id)
        if ledger is None:
            ledger = SessionLedger(session_id)
        self._ledgers.put(session_id, ledger)
        return ledger

    def _stored_rows(self, session_id: str) -> list[TurnRow] | None:
        """The session tree's stored rows; None when the database cannot be read (corrupt, unreadable)."""
        if self.store is None:
            return []
        try:
            return session_rows(self.store.path, session_id)
        except (sqlite3.Error, OSError) as exc:
            self._failed("stored usage", exc)
            return None

    def _session_tree_ledger(self, session_id: str) -> tuple[SessionLedger, bool]:
        """One ledger for a session and its descendants: stored rows, overlaid by what this process holds; and
        whether the stored rows could be read (if not, the ledger holds this process's figures only)."""
        merged = SessionLedger(session_id)
        tree = {session_id}
        stored = self._stored_rows(session_id)
        if stored is not None:
            for row in stored:
                tree.add(row.session_id)
                usage = Usage(
                    row.input_tokens,
                    row.output_tokens,
                    row.reasoning_tokens,
                    row.cache_read_tokens,
                    row.cache_write_tokens,
                    row.cost_usd,
                )
                base = Baselines(row.reasoning_model, row.reasoning_cost_usd, row.coding_model, row.coding_cost_usd)
                merged.put(row.message_id, usage, row.model, row.tier, row.agent, base, row.cache_saved_usd)
        frontier = list(tree)
        while frontier:  # children this process saw being created
            children = [c for sid in frontier for c in self._children.get(sid) or () if c not in tree]
            tree.update(children)
            frontier = children
        for sid in tree:
            if (ledger := self._ledgers.get(sid)) is not None:
                merged.merge(ledger)
        return merged, stored is not None

    def _failed(self, where: str, exc: BaseException) -> None:
        """Count a swallowed failure; log it the first time its cause (place and error type) is seen."""
        self.errors += 1
        cause = f"{where}: {type(exc).__name__}"
        count = self._failures[cause] = self._failures.get(cause, 0) + 1
        if count == 1:
            log.warning("usage accounting failed", where=where, error=type(exc).__name__, note=REPEAT_NOTE)

    def _cache_saving(self, parent: str, message_id: str, route: RouteTag | None) -> float:
        """What the decision saved by keeping a warm cache, credited to its first reply only."""
        if route is None or route.cache_saved_usd <= 0 or not parent:
            return 0.0
        first = self._credited.get(parent)
        if first is None:
            self._credited.put(parent, message_id)
            return route.cache_saved_usd
        return route.cache_saved_usd if first == message_id else 0.0

    def _completed(
        self, message: AssistantMessage, usage: Usage, route: RouteTag | None, base: Baselines, saved: float
    ) -> None:
        if self.telemetry is not None and message.id not in self._logged and message.completed_ms is not None:
            self._logged.put(message.id, True)
            self.telemetry.emit_log(message.completed_ms * 1_000_000, _log_attributes(message, usage, route))
        if self.store is not None:
            self.store.record(
                TurnRow(
                    message_id=message.id,
                    session_id=message.session_id,
                    parent_session_id=self._parents.get(message.session_id),
                    agent=message.agent,
                    tier=route.tier if route else UNROUTED,
                    profile=route.profile if route else UNROUTED,
                    route_source=route.source if route else UNROUTED,
                    provider=message.provider,
                    model=message.model,
                    input_tokens=usage.input,
                    output_tokens=usage.output,
                    reasoning_tokens=usage.reasoning,
                    cache_read_tokens=usage.cache_read,
                    cache_write_tokens=usage.cache_write,
                    cost_usd=usage.cost,
                    reasoning_model=base.reasoning_model if base.reasoning_cost is not None else None,
                    reasoning_cost_usd=base.reasoning_cost,
                    coding_model=base.coding_model if base.coding_cost is not None else None,
                    coding_cost_usd=base.coding_cost,
                    created_ms=message.created_ms,
                    completed_ms=message.completed_ms,
                    recorded_ms=int(self._clock() * 1000),
                    cache_saved_usd=saved,
                )
            )

    def _usage_metrics(self, telemetry: Telemetry, message: AssistantMessage, delta: Usage) -> None:
        for field_name, kind in TOKEN_TYPES:
            amount = getattr(delta, field_name)
            if amount:
                telemetry.add(TOKEN_USAGE, message.session_id, (("model", message.model), ("type", kind)), amount)
        if delta.cost:
            telemetry.add(COST_USAGE, message.session_id, (("model", message.model),), delta.cost)

    def _tool_metrics(self, telemetry: Telemetry, session_id: str, effects: ToolEffects) -> None:
        if effects.commits:
            telemetry.add(COMMIT_COUNT, session_id, (), effects.commits)
        if effects.pull_requests:
            telemetry.add(PULL_REQUEST_COUNT, session_id, (), effects.pull_requests)
        for edit in effects.edits:
            telemetry.add(LINES_OF_CODE, session_id, (("type", "added"),), edit.added)
            telemetry.add(LINES_OF_CODE, session_id, (("type", "removed"),), edit.removed)
            telemetry.add(
                EDIT_DECISION,
                session_id,
                (("tool_name", edit.tool), ("language", edit.language), ("decision", EDIT_DECISION_ACCEPT)),
                1,
            )


def _log_attributes(message: AssistantMessage, usage: Usage, route: RouteTag | None) -> Attributes:
    return (
        ("event.name", "api_request"),
        ("session.id", message.session_id),
        ("model", message.model),
        ("provider", message.provider),
        ("agent", message.agent),
        ("input_tokens", usage.input),
        ("output_tokens", usage.output),
        ("reasoning_tokens", usage.reasoning),
        ("cache_read_tokens", usage.cache_read),
        ("cache_creation_tokens", usage.cache_write),
        ("cost_usd", float(usage.cost)),
        ("duration_ms", message.duration_ms),
        ("tier", route.tier if route else UNROUTED),
        ("profile", route.profile if route else UNROUTED),
        ("routing.source", route.source if route else UNROUTED),
        ("finish", message.finish),
        ("error", message.error),
    )
