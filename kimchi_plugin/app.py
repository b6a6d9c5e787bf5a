"""Composition root: the real services (clock, environment, model catalogue, LLM client, usage store and telemetry,
persisted locks, logging) wired into one Brain, its method table, and the stdio server. The CLI commands build their
Brain here too, so they route exactly as the plugin does."""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kimchi_plugin import __version__
from kimchi_plugin.rpc.stdio import MAX_FRAME_BYTES, FrameWriter, answer_first_frame, claim_stdout, pollable

# Everything else is imported where it is used: the server answers the first `initialize` before pydantic, structlog,
# asyncio and the Brain are imported (stdio.answer_first_frame).
if TYPE_CHECKING:
    from kimchi_plugin.brain import Brain, LlmSpec, Services
    from kimchi_plugin.brain.services import CatalogAnswer, LlmClient
    from kimchi_plugin.opencode.recording import Recording
    from kimchi_plugin.rpc.dispatch import Dispatcher, Route
    from kimchi_plugin.rpc.protocol import Action, InitializeParams, InitializeResult
    from kimchi_plugin.settings import Settings
    from kimchi_plugin.usage.recorder import UsageRecorder

Clock = Callable[[], float]
PYDANTIC_PLUGIN_LOADER = "pydantic.plugin._loader"


def catalog_loader(env: Mapping[str, str], clock: Clock, *, network: bool = True) -> Callable[..., Awaitable[Any]]:
    """The catalogue as the plugin loads it: the disk cache under the injected environment's cache directory, and
    (with `network`) the endpoint within its start-up budget."""

    async def load(base_url: str, api_key: str | None) -> CatalogAnswer:
        from kimchi_plugin.provider import catalog  # httpx: imported off the start-up path

        key = api_key if network else None  # no key: the catalogue never asks the network
        return await catalog.load_models(base_url, key, cache_dir=catalog.default_cache_dir(env), now=clock)

    return load


def bundled() -> tuple[dict[str, Any], ...]:
    from kimchi_plugin.provider.bundled import bundled_models

    return bundled_models()


def make_llm(spec: LlmSpec) -> LlmClient:
    from kimchi_plugin.provider.llm_classifier import LlmClassifier

    return LlmClassifier(
        base_url=spec.base_url, api_key=spec.api_key, model_id=spec.model_id, deadline_s=spec.deadline_s
    )


def plugin_services(
    *,
    env: Mapping[str, str] = os.environ,
    clock: Clock = time.time,
    push_actions: Callable[[list[Action]], None] = lambda _actions: None,
    verbose: bool = False,
    log_file: str | None = None,
    recording: Recording | None = None,
) -> Services:
    """Everything the live plugin uses; with `recording`, what the brain reads from outside is recorded too."""
    from kimchi_plugin.brain import Services
    from kimchi_plugin.brain.corrections_store import CorrectionStore, default_corrections_path
    from kimchi_plugin.brain.locks import LockStore, default_locks_path
    from kimchi_plugin.logs import configure_logging
    from kimchi_plugin.settings import default_log_file

    load_catalog = catalog_loader(env, clock)

    def configure_logs(settings: Settings) -> None:
        path = log_file or settings.logFile or default_log_file(env)
        configure_logging(verbose=verbose or settings.verbose, log_file=path)

    return Services(
        clock=clock,
        env=env,
        load_catalog=recording.catalog(load_catalog) if recording is not None else load_catalog,
        bundled_models=bundled,
        make_llm=recording.llm(make_llm) if recording is not None else make_llm,
        make_usage=lambda settings: _usage(settings, env, clock),
        locks=LockStore(default_locks_path(env), clock),
        corrections=CorrectionStore(default_corrections_path(env)),
        push_actions=push_actions,
        configure_logs=configure_logs,
    )


def _usage(settings: Settings, env: Mapping[str, str], clock: Clock) -> UsageRecorder:
    """The usage recorder; the spend limits are saved beside its database for `kimchi-plugin stats`."""
    from kimchi_plugin.usage import limits
    from kimchi_plugin.usage.recorder import UsageRecorder
    from kimchi_plugin.usage.store import default_db_path

    wanted = limits.SpendLimits(settings.sessionBudget, settings.dailyBudget)
    path = limits.limits_path(default_db_path(env))
    if settings.stats and (wanted.any or os.path.exists(path)):
        limits.save(path, wanted)
    return UsageRecorder.from_settings(settings, env=env, clock=clock)


def quiet_logs() -> None:
    """A command's output is its own: the brain's logs go to stderr, errors only (set once by the command)."""
    import logging

    import structlog

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


def command_services(*, env: Mapping[str, str] = os.environ, clock: Clock = time.time, llm: bool = False) -> Services:
    """What a CLI command routes with: the plugin's catalogue (disk copy, else the bundled one) without touching the
    network unless `llm`, the user's locks or the stats database; the user's learned corrections, read as they are."""
    from kimchi_plugin.brain import Services
    from kimchi_plugin.brain.corrections_store import CorrectionStore, default_corrections_path

    return Services(
        clock=clock,
        env=env,
        load_catalog=catalog_loader(env, clock, network=False),
        bundled_models=bundled,
        make_llm=make_llm if llm else lambda _spec: None,
        corrections=CorrectionStore(default_corrections_path(env), create=False, keep_answers=False),
        background_loads=False,
    )


def build_routes(brain: Brain) -> dict[str, Route]:
    """The method table (imported on first use)."""
    from kimchi_plugin.opencode.routes import build_routes as method_table

    return method_table(brain)


def run_server(*, verbose: bool = False, log_file: str | None = None) -> int:
    """Serve JSON-RPC on stdin/stdout until end of input; exit code 0 on a clean end.

    The first `initialize` is answered before anything heavy is imported (OpenCode waits for that answer); the Brain
    and the method table are built right after the answer is written, before the next frame is read. A first frame
    that is not such an `initialize` is answered by the full server, which builds the Brain on demand."""
    from kimchi_plugin.opencode.handshake import answer_early

    protocol_out = claim_stdout()
    write = FrameWriter(protocol_out)
    stdin = pollable(sys.stdin.buffer)
    try:
        pending, early = answer_first_frame(stdin, write, answer_early) if stdin is not None else (b"", None)
        with importing():
            without_pydantic_plugins()
            if early is not None:
                prepare_catalog_fetch()
            dispatcher, brains = _server(write, verbose=verbose, log_file=log_file, early=early)
        import asyncio

        asyncio.run(_serve(brains, dispatcher, write, pending))
    except KeyboardInterrupt:
        pass
    return 0


def prepare_catalog_fetch(env: Mapping[str, str] = os.environ, clock: Clock = time.time) -> None:
    """On a start that will likely fetch the catalogue (a first start: no recent cache), its TLS context is built on a
    thread while the Brain's modules import: reading the CA bundle holds no interpreter lock."""
    from kimchi_plugin.provider import catalog, tls

    if catalog.fetch_expected(env, clock()):
        tls.prepare()


@contextmanager
def importing() -> Iterator[None]:
    """Start-up's imports without the cyclic garbage collector: they allocate hundreds of thousands of objects that all
    stay (modules, classes, functions), so its passes over them (~7 % of start-up) find almost nothing to free. They
    are then frozen (left out of every later collection), or the first collection after the imports would pass over
    them all at once, and every full one after it again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def without_pydantic_plugins() -> None:
    """No pydantic plugin runs in the brain: the user's messages pass through its validation, and pydantic's search
    for plugins (importlib.metadata, then every installed distribution's entry points: ~18 ms of OpenCode's start) is
    not done. Its loader module stands in place, unexecuted, with a `get_plugins` that finds none; any other name asked
    of it executes the real one (which, under PYDANTIC_DISABLE_PLUGINS, finds none either)."""
    import importlib.util

    os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
    if PYDANTIC_PLUGIN_LOADER in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(PYDANTIC_PLUGIN_LOADER)
    except ImportError:  # a pydantic without that package: nothing to stand in for
        return
    if spec is None or spec.loader is None:
        return
    loader, module = spec.loader, importlib.util.module_from_spec(spec)

    def complete(name: str) -> Any:
        if name.startswith("__"):  # the import system asks for `__path__`, and the like
            raise AttributeError(name)
        del vars(module)["__getattr__"]
        loader.exec_module(module)
        return getattr(module, name)

    vars(module).update(get_plugins=_no_plugins, __getattr__=complete)
    sys.modules[PYDANTIC_PLUGIN_LOADER] = module


def _no_plugins() -> tuple[()]:
    return ()


def _server(
    write: FrameWriter, *, verbose: bool, log_file: str | None, early: dict[str, Any] | None
) -> tuple[Dispatcher, list[Brain]]:
    """The dispatcher: `initialize` at first, the Brain's method table once it is built. With `early` (the params of an
    `initialize` already answered), the Brain is built as soon as the server runs."""
    import structlog

    from kimchi_plugin.logs import configure_logging
    from kimchi_plugin.opencode import lifecycle
    from kimchi_plugin.opencode.vocabulary import BRAIN_HOOKS
    from kimchi_plugin.rpc.dispatch import Dispatcher, Route, notification_frame
    from kimchi_plugin.rpc.protocol import InitializeParams

    configure_logging(verbose=verbose, log_file=log_file)
    brains: list[Brain] = []
    recordings: list[Recording] = []

    def push(actions: list[Action]) -> None:
        write(notification_frame("client.actions", {"actions": [a.model_dump(mode="json") for a in actions]}))

    def compose() -> dict[str, Route]:
        with importing():
            from kimchi_plugin.brain import Brain
            from kimchi_plugin.opencode.recording import Recording

            recordings.append(Recording(os.environ, time.time))
            services = plugin_services(push_actions=push, verbose=verbose, log_file=log_file, recording=recordings[0])
            brains.append(Brain(services))
            return recordings[0].wrap(build_routes(brains[0]), brains[0])

    def start(params: InitializeParams) -> None:
        dispatcher.compose_now()
        lifecycle.start(brains[0], params)
        recordings[0].start(brains[0], params.directory)

    async def first_initialize(params: InitializeParams) -> InitializeResult:
        dispatcher.defer(lambda: start(params))
        return lifecycle.handshake(BRAIN_HOOKS, params)

    dispatcher = Dispatcher({"initialize": Route(InitializeParams, first_initialize)})
    dispatcher.compose_on_demand(compose)
    structlog.get_logger("kimchi").info("brain started", version=__version__, python=sys.version.split()[0])
    if early is not None:
        answered = early
        dispatcher.defer(lambda: start(InitializeParams.model_validate(answered)))
    return dispatcher, brains


async def _serve(brains: list[Brain], dispatcher: Dispatcher, write: FrameWriter, pending: bytes) -> None:
    from kimchi_plugin.rpc.transport import serve

    dispatcher.run_deferred()  # the Brain, when `initialize` was answered before the server ran
    try:
        await serve(dispatcher, sys.stdin.buffer, write, max_frame=MAX_FRAME_BYTES, pending=pending)
    finally:
        for brain in brains:
            await brain.close()
