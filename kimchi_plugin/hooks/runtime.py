"""Per-process state shared by the hook handlers: settings from `initialize`, services, and the brain objects."""

from __future__ import annotations

import structlog

from kimchi_plugin.logs import configure_logging
from kimchi_plugin.rpc.protocol import InitializeParams
from kimchi_plugin.settings import Settings, default_log_file

log = structlog.get_logger("kimchi")


class Runtime:
    """Everything a hook handler may touch. Created before `initialize`; `initialize` brings the options."""

    def __init__(self, *, log_file: str | None = None, verbose: bool = False) -> None:
        self.cli_log_file = log_file
        self.cli_verbose = verbose
        self.settings = Settings()
        self.directory = ""
        self.worktree = ""
        self.initialized = False

    def initialize(self, params: InitializeParams) -> None:
        settings, problems = Settings.from_options(params.options)
        self.settings = settings
        self.directory = params.directory
        self.worktree = params.worktree
        self.log_file = self.cli_log_file or settings.logFile or default_log_file()
        configure_logging(verbose=self.cli_verbose or settings.verbose, log_file=self.log_file)
        for problem in problems:
            log.warning(problem)
        self.initialized = True

    async def close(self) -> None:
        """Flush and stop background work; called on `shutdown` and at end of input."""
