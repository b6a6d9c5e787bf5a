"""JSON-RPC dispatch: the only module that imports jsonrpcserver.

Each method is registered with a pydantic params model; bad params become -32602 with a readable message, and any
exception inside a handler becomes -32603 "Internal error" with no message text (it may hold user data or secrets) —
the details go to the log.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError

with warnings.catch_warnings():
    # jsonrpcserver 5 uses importlib.resources.read_text, deprecated on 3.11/3.12.
    warnings.simplefilter("ignore", DeprecationWarning)
    from jsonrpcserver import Error, InvalidParams, Result, Success, async_dispatch

log = structlog.get_logger("kimchi.rpc")

INTERNAL_ERROR = -32603
PARSE_ERROR = -32700
INVALID_REQUEST = -32600

Handler = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Route:
    params: type[BaseModel]
    handler: Handler


def _describe(exc: ValidationError) -> str:
    """A short, value-free description of what is wrong with the params."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "params"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _wrap(name: str, route: Route) -> Callable[..., Awaitable[Result]]:
    async def method(*args: Any, **kwargs: Any) -> Result:
        if args:
            return InvalidParams("params must be an object, not an array")
        try:
            params = route.params.model_validate(kwargs)
        except ValidationError as exc:
            return InvalidParams(_describe(exc))
        try:
            result = await route.handler(params)
        except Exception:
            log.exception("method failed", method=name)
            return Error(INTERNAL_ERROR, "Internal error")
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json", exclude_none=True)
        return Success(result)

    return method


_serialize = partial(json.dumps, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def error_frame(code: int, message: str, rpc_id: Any = None) -> str:
    """A JSON-RPC error response built outside the dispatcher (oversized or undecodable frames)."""
    return _serialize({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": rpc_id})


def notification_frame(method: str, params: dict[str, Any]) -> str:
    """A brain-initiated notification (no id), e.g. client actions outside any hook call."""
    return _serialize({"jsonrpc": "2.0", "method": method, "params": params})


_REQUEST_KEYS = frozenset({"jsonrpc", "method", "params", "id"})


def _check_request(request: Any) -> None:
    """JSON-RPC 2.0 request shape, checked directly (the library's jsonschema pass costs ~0.25 ms a call).
    Any exception makes the dispatcher answer -32600."""
    for item in request if isinstance(request, list) and request else [request]:
        if not isinstance(item, dict) or item.get("jsonrpc") != "2.0" or not isinstance(item.get("method"), str):
            raise ValueError("not a JSON-RPC 2.0 request")
        if not _REQUEST_KEYS.issuperset(item):
            raise ValueError("unexpected member")
        if "params" in item and not isinstance(item["params"], (dict, list)):
            raise ValueError("params must be structured")
        rpc_id = item.get("id")
        if isinstance(rpc_id, bool) or not (rpc_id is None or isinstance(rpc_id, (str, int, float))):
            raise ValueError("bad id")


def build_dispatcher(routes: Mapping[str, Route]) -> Callable[[str], Awaitable[str]]:
    """Return `dispatch(line) -> response line ("" for notifications)`; it never raises."""
    methods = {name: _wrap(name, route) for name, route in routes.items()}

    async def dispatch_one(text: str) -> str:
        try:
            return await async_dispatch(text, methods=methods, validator=_check_request, serializer=_safe_serialize)
        except Exception:
            log.exception("dispatch failed")
            return error_frame(INTERNAL_ERROR, "Internal error")

    async def dispatch(text: str) -> str:
        if text.startswith("["):
            # Answer each batch element on its own (jsonrpcserver fails a whole batch for one bad element).
            items = _batch_items(text)
            if items is not None:
                replies = await asyncio.gather(*(dispatch_one(_serialize(item)) for item in items))
                answered = [r for r in replies if r]
                return "[" + ",".join(answered) + "]" if answered else ""
        return await dispatch_one(text)

    return dispatch


def _batch_items(text: str) -> list[Any] | None:
    """The elements of a non-empty batch, or None to let the dispatcher report the problem."""
    try:
        items = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(items, list) or not items:
        return None
    try:
        _serialize(items)
    except ValueError:  # NaN/Infinity inside: let the dispatcher answer it as one request
        return None
    return items


def _safe_serialize(response: Any) -> str:
    try:
        return _serialize(response)
    except (TypeError, ValueError):
        log.exception("unserializable response")
        rpc_id = response.get("id") if isinstance(response, dict) else None
        return error_frame(INTERNAL_ERROR, "Internal error", rpc_id)
