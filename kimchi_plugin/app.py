"""Composition root: settings, services and brain wired to the JSON-RPC method table, then served on stdio."""

from __future__ import annotations

import asyncio
import sys

import structlog

from kimchi_plugin import __version__
from kimchi_plugin.logs import claim_stdout, configure_logging
from kimchi_plugin.opencode import build_routes
from kimchi_plugin.opencode.runtime import Runtime
from kimchi_plugin.rpc.dispatch import build_dispatcher, notification_frame
from kimchi_plugin.rpc.protocol import MAX_FRAME_BYTES
from kimchi_plugin.rpc.transport import FrameWriter, serve

log = structlog.get_logger("kimchi")


def run_server(*, verbose: bool = False, log_file: str | None = None) -> int:
    """Serve JSON-RPC on stdin/stdout until end of input; exit code 0 on a clean end."""
    protocol_out = claim_stdout()
    configure_logging(verbose=verbose, log_file=log_file)
    write = FrameWriter(protocol_out)
    runtime = Runtime(
        log_file=log_file,
        verbose=verbose,
        push_actions=lambda actions: write(notification_frame("client.actions", {"actions": actions})),
    )
    dispatch = build_dispatcher(build_routes(runtime))
    log.info("brain started", version=__version__, python=sys.version.split()[0])
    try:
        asyncio.run(_serve(runtime, dispatch, write))
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(runtime: Runtime, dispatch, write) -> None:
    try:
        await serve(dispatch, sys.stdin.buffer, write, max_frame=MAX_FRAME_BYTES)
    finally:
        await runtime.close()
