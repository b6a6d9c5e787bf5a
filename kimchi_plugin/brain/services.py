"""What the Brain is given rather than reaches for: the clock, the environment, the model catalogue, the LLM client,
the usage recorder, persisted locks and the channel for unsolicited actions. `app.py` wires the real ones; tests pass
fakes, so nothing in the Brain reads `os.environ`, `time.time` or the network by itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from kimchi_plugin.routing.tiers import Tier
from kimchi_plugin.rpc.protocol import Action
from kimchi_plugin.settings import Settings
from kimchi_plugin.usage.recorder import UsageRecorder

if TYPE_CHECKING:
    from kimchi_plugin.brain.corrections_store import CorrectionStore
    from kimchi_plugin.brain.locks import LockStore


class CatalogAnswer(Protocol):
    """What a catalogue load yields (provider.catalog.CatalogResult): models in ModelSpec field names, where they
    came from ("network", "cache", "stale-cache", "none"), and a refresh still running in the background."""

    @property
    def models(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def source(self) -> Any: ...
    @property
    def refresh(self) -> Awaitable[Any] | None: ...


class LlmClient(Protocol):
    """The second-opinion classifier: (message, previous message) → tier or no opinion, within its own deadline."""

    async def __call__(self, text: str, previous: str) -> Tier | None: ...
    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LlmSpec:
    base_url: str
    api_key: str
    model_id: str
    deadline_s: float


CatalogLoader = Callable[[str, "str | None"], Awaitable[CatalogAnswer]]


def _no_actions(_actions: list[Action]) -> None:
    return None


def _no_logs(_settings: Settings) -> None:
    return None


def _no_llm(_spec: LlmSpec) -> LlmClient | None:
    return None


@dataclass(frozen=True, slots=True)
class Services:
    clock: Callable[[], float]
    env: Mapping[str, str]
    load_catalog: CatalogLoader
    """(base URL, API key) → the catalogue: disk cache, network within its start-up budget, else nothing."""
    bundled_models: Callable[[], Sequence[Mapping[str, Any]]] = tuple
    """The catalogue shipped with the package, used when no catalogue could be loaded."""
    make_llm: Callable[[LlmSpec], LlmClient | None] = _no_llm
    make_usage: Callable[[Settings], UsageRecorder] | None = None
    """Usage recorder for the options given at `initialize` (stats database, telemetry); None: in memory only."""
    locks: LockStore | None = None
    corrections: CorrectionStore | None = None
    """Where the user's routing corrections are kept; None: learned in memory for this process only."""
    push_actions: Callable[[list[Action]], None] = _no_actions
    """Send actions outside any hook call (a toast when a model fails, the missing-key message)."""
    configure_logs: Callable[[Settings], None] = _no_logs
    background_loads: bool = True
    """Load the tokenizer and the classifier weights on threads after the first config (off in short CLI runs)."""
