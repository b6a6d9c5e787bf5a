"""JSON-RPC dispatch: the only module that imports jsonrpcserver.

Each method is registered with a pydantic params model; bad params become -32602 with a readable message, and any
exception inside a handler becomes -32603 "Internal error" with no message text (it may hold user data or secrets) —
the details go to the log. No error's `data` is ever filled from an exception's text.

The hot path is synchronous: a well-formed call of a known method validates the params and runs the handler eagerly;
only a handler that really waits becomes a task, and its reply is written when it finishes. Everything else (batches'
odd members, unknown methods, positional params, malformed requests) goes through jsonrpcserver's pipeline, which calls
the same methods.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import structlog
from pydantic import BaseModel, ValidationError

from kimchi_plugin.rpc.protocol import HookResult
from kimchi_plugin.rpc.stdio import REQUEST_KEYS, serialize


def _jsonrpcserver_without_schema() -> None:
    """Make `jsonrpcserver` importable without running its package `__init__`, which imports jsonschema and builds a
    request-schema validator (~29 ms at start-up) that this server never uses (`_check_request` does that job).
    The package's own names are filled in on first access, should anything else ask for them."""
    if "jsonrpcserver" in sys.modules:
        return
    spec = importlib.util.find_spec("jsonrpcserver")
    if spec is None or spec.loader is None:
        raise ImportError("jsonrpcserver is not installed")
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def complete(name: str) -> Any:
        del vars(package)["__getattr__"]
        loader.exec_module(package)
        return getattr(package, name)

    vars(package)["__getattr__"] = complete
    sys.modules["jsonrpcserver"] = package


_jsonrpcserver_without_schema()
from jsonrpcserver.dispatcher import dispatch_to_response_pure  # noqa: E402
from jsonrpcserver.result import Error, InvalidParams, Success  # noqa: E402
from jsonrpcserver.sentinels import NOCONTEXT, NODATA, NOID  # noqa: E402
from oslash.either import Left  # noqa: E402

log = structlog.get_logger("kimchi.rpc")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# Codes whose `data` is the library's or our own wording (a method name, a value-free params description), never an
# exception's text; every other code is answered without `data`.
_DATA_KEPT = frozenset({INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS})
SNIFF_BYTES = 4096  # how much of an unparseable frame is searched for its id
# The request id as a top-level member among the envelope's first keys (the shim writes jsonrpc, id, method, params):
# an "id" nested inside params must never be echoed, it could belong to another pending call.
_ID_PREFIX = re.compile(
    r'^\s*\{(?:\s*"(?:jsonrpc|method)"\s*:\s*"[^"\\]{0,64}"\s*,)*\s*"id"\s*:\s*(-?\d{1,15}|"[^"\\]{0,64}")'
)

Handler = Callable[[Any], Awaitable[Any]]
Result = Any  # jsonrpcserver's Either[ErrorResult, SuccessResult]


@dataclass(frozen=True, slots=True)
class Route:
    params: type[BaseModel]
    handler: Handler


def sniff_id(head: str) -> int | str | None:
    """The request id of a frame that cannot be parsed as a whole (oversized, not UTF-8, nested too deep)."""
    found = _ID_PREFIX.match(head[:SNIFF_BYTES])
    if not found:
        return None
    raw = found.group(1)
    return raw.strip('"') if raw.startswith('"') else int(raw)


def _describe(exc: ValidationError) -> str:
    """A short, value-free description of what is wrong with the params."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "params"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


class _Rest:
    """The remainder of a coroutine that was stepped once by hand and then had to wait (Python < 3.12)."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coro = coro
        self._first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, pending = self._coro, self._first
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation and the like go to the coroutine itself
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _finish(rest: _Rest) -> Any:
    return await rest


# Tasks for handlers that waited; held here so that a notification's task is not collected before it ends.
_waiting: set[asyncio.Future[Any]] = set()


def run_eagerly(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """Run `coro` until it first waits: (True, its result) when it never did, else (False, a task finishing it).

    Python 3.12+ does it with an eager task (the handler sees a current task at once); older versions step the
    coroutine by hand and wrap what is left in a task, so there the part before the first wait runs outside any task
    and must not need one (`asyncio.timeout`, `TaskGroup`; `wait_for` is fine). Exceptions of the eager part
    propagate."""
    if sys.version_info >= (3, 12):
        task = asyncio.Task(coro, eager_start=True)  # type: ignore[call-arg,unused-ignore]
        if task.done():
            return True, task.result()
    else:
        try:
            first = coro.send(None)
        except StopIteration as stop:
            return True, stop.value
        task = asyncio.ensure_future(_finish(_Rest(coro, first)))
    return False, _kept(task)


def _kept(task: asyncio.Future[Any]) -> asyncio.Future[Any]:
    _waiting.add(task)
    task.add_done_callback(_waiting.discard)
    return task


class _Waiting:
    """A method result that is not there yet: the task that will produce it (or _FAILED)."""

    __slots__ = ("task",)

    def __init__(self, task: asyncio.Future[Any]) -> None:
        self.task = task


_FAILED = object()  # what a method gives when its handler raised (logged): answered as an internal error


async def _call(name: str, handler: Handler, params: BaseModel) -> Any:
    try:
        result = await handler(params)
    except Exception:
        log.exception("method failed", method=name)
        return _FAILED
    if isinstance(result, HookResult):
        return result.wire()
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json", exclude_none=True)
    return result


class _BadParams(Exception):
    """The params do not fit the method's model; `args[0]` is the value-free description."""


# jsonrpcserver binds every call's params against the method's signature: give it one computed once.
_ANY_ARGS = inspect.Signature(
    [
        inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
        inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
    ]
)


class _Method:
    """One method: `run` for the dispatcher's own path, the call itself for jsonrpcserver's pipeline."""

    __slots__ = ("_name", "_route")
    __signature__ = _ANY_ARGS

    def __init__(self, name: str, route: Route) -> None:
        self._name = name
        self._route = route

    def run(self, params: dict[str, Any]) -> Any:
        """Validate the named params and run the handler: its wire result, _FAILED, or a `_Waiting` while it runs on.
        Raises _BadParams."""
        route = self._route
        try:
            validated = route.params.model_validate(params)
        except ValidationError as exc:
            raise _BadParams(_describe(exc)) from None
        done, outcome = run_eagerly(_call(self._name, route.handler, validated))
        return outcome if done else _Waiting(outcome)

    def __call__(self, *args: Any, **kwargs: Any) -> Result:
        if args:
            return InvalidParams("params must be an object, not an array")
        try:
            value = self.run(kwargs)
        except _BadParams as exc:
            return InvalidParams(exc.args[0])
        return Error(INTERNAL_ERROR, "Internal error") if value is _FAILED else Success(value)


def error_frame(code: int, message: str, rpc_id: Any = None, data: Any = None) -> str:
    """A JSON-RPC error response; `data` only for codes whose data is never an exception's text."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None and code in _DATA_KEPT:
        error["data"] = data
    return serialize({"jsonrpc": "2.0", "error": error, "id": rpc_id})


def notification_frame(method: str, params: dict[str, Any]) -> str:
    """A brain-initiated notification (no id), e.g. client actions outside any hook call."""
    return serialize({"jsonrpc": "2.0", "method": method, "params": params})


def _success_frame(result: Any, rpc_id: Any) -> str:
    try:
        return serialize({"jsonrpc": "2.0", "result": result, "id": rpc_id})
    except (TypeError, ValueError, RecursionError):
        log.exception("unserializable response")
        return error_frame(INTERNAL_ERROR, "Internal error", rpc_id)


def _error_frame_of(error: Any, rpc_id: Any) -> str:
    return error_frame(error.code, error.message, rpc_id, None if error.data is NODATA else error.data)


async def _reply_later(waiting: _Waiting, rpc_id: Any) -> str:
    result = await waiting.task
    if result is _FAILED:
        return error_frame(INTERNAL_ERROR, "Internal error", rpc_id)
    return _success_frame(result, rpc_id)


def _check_request(request: Any) -> Any:
    """JSON-RPC 2.0 request shape, checked directly (the library's jsonschema pass costs ~0.25 ms a call).
    Any exception makes the dispatcher answer -32600."""
    if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or not isinstance(request.get("method"), str):
        raise ValueError("not a JSON-RPC 2.0 request")
    if not REQUEST_KEYS.issuperset(request):
        raise ValueError("unexpected member")
    if "params" in request and not isinstance(request["params"], (dict, list)):
        raise ValueError("params must be structured")
    rpc_id = request.get("id")
    if isinstance(rpc_id, bool) or not (rpc_id is None or isinstance(rpc_id, (str, int, float))):
        raise ValueError("bad id")


def _well_formed(request: dict[str, Any]) -> bool:
    try:
        _check_request(request)
    except ValueError:
        return False
    return True


def _parsed(document: Any) -> Any:
    return document  # the frame is parsed before jsonrpcserver sees it (to tell deep nesting from bad JSON)


def _as_is(response: Any) -> Any:
    return response


class Dispatcher:
    """`start(line)` answers a frame: the reply line when every handler finished without waiting ("" for
    notifications), else an awaitable of it. Awaiting the dispatcher itself always gives the line. Never raises.

    A server may start with a few methods and `install` the rest later; work a handler `defer`s runs right after its
    reply is written and before the next frame is read (so `initialize` can be answered before the rest is imported).
    """

    def __init__(self, routes: Mapping[str, Route]) -> None:
        self._methods: dict[str, _Method] = {}
        self._deferred: list[Callable[[], None]] = []
        self._compose: Callable[[], Mapping[str, Route]] | None = None
        self.install(routes)

    def install(self, routes: Mapping[str, Route]) -> None:
        """Add (or replace) methods."""
        self._methods.update((name, _Method(name, route)) for name, route in routes.items())

    def compose_on_demand(self, compose: Callable[[], Mapping[str, Route]]) -> None:
        """Install `compose()`'s methods once: through `compose_now`, or before the first call of a method not
        installed yet."""
        self._compose = compose

    def compose_now(self) -> None:
        compose, self._compose = self._compose, None
        if compose is not None:
            self.install(compose())

    def defer(self, work: Callable[[], None]) -> None:
        """Run `work` once the current reply is written, before any further frame is dispatched."""
        self._deferred.append(work)

    def run_deferred(self) -> None:
        while self._deferred:
            work = self._deferred.pop(0)
            try:
                work()
            except Exception:
                log.exception("deferred start-up work failed")

    async def __call__(self, text: str) -> str:
        reply = self.start(text)
        reply = reply if isinstance(reply, str) else await reply
        self.run_deferred()
        return reply

    def start(self, text: str) -> str | Awaitable[str]:
        try:
            document = json.loads(text)
        except RecursionError:
            return error_frame(INVALID_REQUEST, "Invalid request: nested too deeply", sniff_id(text))
        except ValueError:
            return error_frame(PARSE_ERROR, "Parse error")
        try:
            if isinstance(document, list) and document:
                return self._batch(document)  # each element on its own (the library fails a batch for one bad one)
            return self._one(document)
        except Exception:
            log.exception("dispatch failed")
            return error_frame(INTERNAL_ERROR, "Internal error")

    def _one(self, document: Any) -> str | Awaitable[str]:
        well_formed = type(document) is dict and _well_formed(document)
        if self._compose is not None and not (well_formed and document["method"] in self._methods):
            self.compose_now()
        if well_formed and isinstance(params := document.get("params", {}), dict):
            method = self._methods.get(document["method"])
            if method is not None:
                return self._call(method, document, params)
        response: Any = dispatch_to_response_pure(
            deserializer=_parsed,
            validator=_check_request,
            methods=cast("dict[str, Callable[..., Result]]", self._methods),
            context=NOCONTEXT,
            post_process=_as_is,
            request=document,
        )
        if response is None:
            return ""
        if isinstance(response, Left):
            return _error_frame_of(response._error, response._error.id)
        value = response._value
        if isinstance(value.result, _Waiting):
            return _reply_later(value.result, value.id)
        return _success_frame(value.result, value.id)

    @staticmethod
    def _call(method: _Method, document: dict[str, Any], params: dict[str, Any]) -> str | Awaitable[str]:
        """A well-formed call of a known method with named params, without jsonrpcserver's pipeline around it (its
        argument check cannot fail here: every method takes any named params and validates them itself) and without
        its result wrappers; what its own `call` answers for an exception inside the method (an internal error) is
        answered the same."""
        rpc_id = document.get("id", NOID)
        try:
            value = method.run(params)
        except _BadParams as exc:
            if rpc_id is NOID:  # nobody reads an answer: the verbose log is where it shows
                log.debug("notification dropped: invalid params", method=document["method"], problem=exc.args[0])
                return ""
            return error_frame(INVALID_PARAMS, "Invalid params", rpc_id, exc.args[0])
        except Exception:
            log.exception("method failed", method=document["method"])
            value = _FAILED
        if rpc_id is NOID:
            return ""  # a notification: the handler ran (or runs on as a task); nothing is answered
        if value is _FAILED:
            return error_frame(INTERNAL_ERROR, "Internal error", rpc_id)
        if isinstance(value, _Waiting):
            return _reply_later(value, rpc_id)
        return _success_frame(value, rpc_id)

    def _batch(self, items: list[Any]) -> str | Awaitable[str]:
        replies = [self._one(item) for item in items]
        if all(isinstance(reply, str) for reply in replies):
            return _join(replies)  # type: ignore[arg-type]
        return _join_later(replies)


def _join(replies: list[str]) -> str:
    answered = [reply for reply in replies if reply]
    return "[" + ",".join(answered) + "]" if answered else ""


async def _join_later(replies: list[str | Awaitable[str]]) -> str:
    return _join([reply if isinstance(reply, str) else await reply for reply in replies])


def build_dispatcher(routes: Mapping[str, Route]) -> Dispatcher:
    """The dispatcher for a method table (see `Dispatcher`)."""
    return Dispatcher(routes)
