"""Drive the real ``opencode`` binary (pinned 1.18.33) in an isolated, offline sandbox.

A sandbox owns HOME and XDG dirs, a pre-seeded config dir (so OpenCode's background npm
install is skipped), an ``opencode.json`` pointing a ``kimchi`` provider at a fake model server,
and a project dir; it runs ``opencode run`` turns and ``opencode serve`` with a small HTTP client.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
OPENCODE_VERSION = "1.18.33"
SEED_DIR = REPO_ROOT / ".e2e-cache" / f"seed-{OPENCODE_VERSION}"
SHIM_ENTRY = REPO_ROOT / "plugin_shim" / "index.js"
PROVIDER_ID = "kimchi"
FAKE_API_KEY = "sk-fake-e2e-key"
DEFAULT_MODELS: dict[str, dict[str, Any]] = {
    "kimi-k2.5": {"name": "Kimi K2.5"},
    "minimax-m2.7": {"name": "MiniMax M2.7"},
    "claude-sonnet-4": {"name": "Claude Sonnet 4"},
}
DEFAULT_MODEL = "kimi-k2.5"
ISOLATION_FLAGS = (
    "OPENCODE_DISABLE_AUTOUPDATE",
    "OPENCODE_DISABLE_MODELS_FETCH",
    "OPENCODE_DISABLE_LSP_DOWNLOAD",
    "OPENCODE_DISABLE_SHARE",
)
SERVE_READY_MARKER = "server listening on"
RUN_TIMEOUT_S = 120.0
SERVE_START_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 60.0
CHILD_EXIT_GRACE_S = 2.0
NPM_INSTALL_TIMEOUT_S = 300.0


class OpencodeMissing(RuntimeError):
    """The opencode binary is not installed in ``<repo>/node_modules``."""


class OpencodeTimeout(RuntimeError):
    """An opencode process did not finish in time; carries what it printed."""

    def __init__(self, what: str, stdout: str, stderr: str):
        super().__init__(f"{what}\n--- stdout (tail)\n{stdout[-2000:]}\n--- stderr (tail)\n{stderr[-2000:]}")
        self.stdout, self.stderr = stdout, stderr


# -- binary and seed --------------------------------------------------------------------------
def _candidates() -> list[Path]:
    """Where npm puts the binary: the bin link, else the platform package (when postinstall did not run)."""
    found = [REPO_ROOT / "node_modules" / ".bin" / "opencode"]
    found += sorted((REPO_ROOT / "node_modules").glob("opencode-linux-x64*/bin/opencode"))
    return [path for path in found if path.exists() and os.access(path, os.X_OK)]


def find_binary() -> Path | None:
    """The first installed opencode binary, or ``None`` when there is none."""
    candidates = _candidates()
    return candidates[0] if candidates else None


def home_env(home: Path) -> dict[str, str]:
    """Only PATH and HOME/XDG dirs under `home`: nothing of the machine's own user leaks in."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
    }


def _base_env(home: Path) -> dict[str, str]:
    """The isolated home and OpenCode's offline switches."""
    return home_env(home) | {flag: "1" for flag in ISOLATION_FLAGS}


@functools.cache
def opencode_binary() -> Path:
    """The first installed binary that reports the pinned version (checked once per process)."""
    candidates = _candidates()
    if not candidates:
        raise OpencodeMissing(f"opencode not found under {REPO_ROOT / 'node_modules'} (run npm install)")
    home = REPO_ROOT / ".e2e-cache" / "version-home"
    home.mkdir(parents=True, exist_ok=True)
    seen = []
    for binary in candidates:
        try:
            out = subprocess.run(
                [str(binary), "--version"],
                env=_base_env(home),
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
            version = out.stdout.strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            version = f"unusable ({exc})"
        if version == OPENCODE_VERSION:
            return binary
        seen.append(f"{binary}: {version!r}")
    raise RuntimeError(f"no opencode {OPENCODE_VERSION} installed (the harness is pinned to it): {'; '.join(seen)}")


def ensure_seed() -> Path:
    """Install ``@opencode-ai/plugin@<pinned>`` into the seed dir once (file-locked, needs npm)."""
    done = SEED_DIR / ".complete"
    if done.exists():
        return SEED_DIR
    SEED_DIR.parent.mkdir(parents=True, exist_ok=True)
    with open(SEED_DIR.parent / f"seed-{OPENCODE_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return SEED_DIR
        shutil.rmtree(SEED_DIR, ignore_errors=True)
        SEED_DIR.mkdir()
        (SEED_DIR / "package.json").write_text(
            json.dumps({"dependencies": {"@opencode-ai/plugin": OPENCODE_VERSION}}, indent=2) + "\n"
        )
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed once to build the e2e seed dir")
        proc = subprocess.run(
            [npm, "install", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=SEED_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_INSTALL_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0 or not (SEED_DIR / "package-lock.json").exists():
            raise RuntimeError(f"npm install of the e2e seed failed:\n{proc.stderr[-3000:]}")
        done.write_text(OPENCODE_VERSION + "\n")
    return SEED_DIR


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def plugin_entry(path: str | Path, options: dict[str, Any] | None = None) -> list[Any]:
    """A ``plugin`` array entry: ``[file URL, options]``."""
    return [Path(path).resolve().as_uri(), options or {}]


def shim_plugin(options: dict[str, Any] | None = None) -> list[Any]:
    """The project's own shim as a plugin entry."""
    return plugin_entry(SHIM_ENTRY, options)


# -- process helpers ----------------------------------------------------------------------------
def _group_members(pgid: int) -> list[int]:
    """Live pids whose process group is ``pgid`` (children the started process left behind)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def _reap_group(pgid: int, grace: float) -> list[int]:
    """Wait up to ``grace`` for the group to empty, then kill what is left; returns the stragglers."""
    deadline = time.monotonic() + grace
    left = _group_members(pgid)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = _group_members(pgid)
    if left:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    return left


@dataclass
class RunResult:
    """Outcome of one ``opencode run``."""

    argv: list[str]
    rc: int
    stdout: str
    stderr: str
    wall_s: float
    started_at: float  # epoch seconds when the process was started
    events: list[dict[str, Any]] = field(default_factory=list)
    leftover_pids: list[int] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The assistant's text: ``text`` events in JSON mode, else stdout."""
        if not self.events:
            return self.stdout
        return "".join((e.get("part") or {}).get("text", "") for e in self.events if e.get("type") == "text")

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]


# -- the sandbox ----------------------------------------------------------------------------------
class OpencodeSandbox:
    """An isolated HOME + config + project for the real opencode binary."""

    def __init__(self, root: Path, api_base: str, *, git: bool = False, seed: bool = True):
        self.root = Path(root)
        self.api_base = api_base
        self.binary = opencode_binary()
        self.home = self.root / "home"
        self.project = self.root / "project"
        self.env = _base_env(self.home)
        for key in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            Path(self.env[key]).mkdir(parents=True, exist_ok=True)
        self.config_dir = Path(self.env["XDG_CONFIG_HOME"]) / "opencode"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        if seed:
            self.seed_config_dir(self.config_dir)
        self.project.mkdir(parents=True, exist_ok=True)
        if git:
            self._init_git()
        self.configure()

    @property
    def config_path(self) -> Path:
        return self.config_dir / "opencode.json"

    @property
    def log_dir(self) -> Path:
        return Path(self.env["XDG_DATA_HOME"]) / "opencode" / "log"

    def opencode_log(self) -> str:
        """Everything OpenCode wrote to its own log files in this sandbox."""
        if not self.log_dir.is_dir():
            return ""
        return "".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

    @staticmethod
    def seed_config_dir(config_dir: Path) -> None:
        """Make OpenCode consider ``@opencode-ai/plugin`` installed in ``config_dir``."""
        seed = ensure_seed()
        config_dir.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(seed / name, config_dir / name)
        link = config_dir / "node_modules"
        if not link.exists():
            link.symlink_to(seed / "node_modules", target_is_directory=True)

    def _init_git(self) -> None:
        (self.project / "README.md").write_text("sandbox project\n")
        ident = ["-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", "-c", "commit.gpgsign=false"]
        for args in (["init", "-q"], ["add", "README.md"], [*ident, "commit", "-q", "-m", "init"]):
            subprocess.run(["git", *args], cwd=self.project, env=self.env, check=True, capture_output=True)

    def configure(
        self,
        *,
        models: dict[str, dict[str, Any]] | None = None,
        model: str | None = DEFAULT_MODEL,
        small_model: str | None = DEFAULT_MODEL,
        plugins: list[Any] | None = None,
        api_key: str | None = FAKE_API_KEY,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """(Re)write ``opencode.json``: the ``kimchi`` provider on the fake server, models, plugins."""
        options: dict[str, Any] = {"baseURL": self.api_base}
        if api_key is not None:
            options["apiKey"] = api_key
        config: dict[str, Any] = {
            "$schema": "https://opencode.ai/config.json",
            "autoupdate": False,
            "share": "disabled",
            "enabled_providers": [PROVIDER_ID],
            "provider": {
                PROVIDER_ID: {
                    "npm": "@ai-sdk/openai-compatible",
                    "name": "Kimchi (fake)",
                    "options": options,
                    "models": models if models is not None else DEFAULT_MODELS,
                }
            },
        }
        if model:
            config["model"] = f"{PROVIDER_ID}/{model}"
        if small_model:
            config["small_model"] = f"{PROVIDER_ID}/{small_model}"
        if plugins:
            config["plugin"] = plugins
        config.update(extra or {})
        self.config_path.write_text(json.dumps(config, indent=2) + "\n")
        return config

    # -- opencode run ---------------------------------------------------------------------------
    def run(
        self,
        *words: str,
        model: str | None = None,
        agent: str | None = None,
        session: str | None = None,
        continue_: bool = False,
        format: str = "json",
        timeout: float = RUN_TIMEOUT_S,
        extra_args: tuple[str, ...] = (),
    ) -> RunResult:
        """One ``opencode run`` turn; ``words`` go as separate argv items (opencode quotes spaced args)."""
        argv = [str(self.binary), "run", "--format", format]
        if model:
            argv += ["--model", model if "/" in model else f"{PROVIDER_ID}/{model}"]
        if agent:
            argv += ["--agent", agent]
        if session:
            argv += ["--session", session]
        if continue_:
            argv.append("--continue")
        argv += [*extra_args, *words]
        started_at = time.time()
        start = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=self.project,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            raise OpencodeTimeout(f"opencode run timed out after {timeout}s: {argv[1:]}", stdout, stderr) from None
        wall = time.monotonic() - start
        leftovers = _reap_group(proc.pid, CHILD_EXIT_GRACE_S)
        events = _parse_events(stdout) if format == "json" else []
        return RunResult(argv, proc.returncode, stdout, stderr, wall, started_at, events, leftovers)

    # -- opencode serve -------------------------------------------------------------------------
    @contextlib.contextmanager
    def serve(self, *, start_timeout: float = SERVE_START_TIMEOUT_S) -> Iterator[ServeClient]:
        """Run ``opencode serve`` on a free loopback port; yields a client bound to the project dir.

        On exit serve gets SIGTERM; whatever of its process group outlives it is killed and listed in
        ``client.leftover_pids``.
        """
        port = free_port()
        out_path = self.root / f"serve-{port}.out"
        err_path = self.root / f"serve-{port}.err"
        with open(out_path, "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen(
                [str(self.binary), "serve", "--hostname", "127.0.0.1", "--port", str(port)],
                cwd=self.project,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        client = None
        try:
            deadline = time.monotonic() + start_timeout
            # Requests sent while serve is still booting can hang: wait for its own ready line.
            while SERVE_READY_MARKER not in out_path.read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise OpencodeTimeout(
                        f"opencode serve did not start (rc={proc.poll()})",
                        out_path.read_text(errors="replace"),
                        err_path.read_text(errors="replace"),
                    )
                time.sleep(0.05)
            client = ServeClient(f"http://127.0.0.1:{port}", self.project, proc.pid, out_path, err_path)
            yield client
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            client_left = _reap_group(proc.pid, CHILD_EXIT_GRACE_S)
            if client is not None:
                client.leftover_pids = client_left


def _parse_events(stdout: str) -> list[dict[str, Any]]:
    events = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
    return events


# -- HTTP client for opencode serve ------------------------------------------------------------------
def model_ref(model: str) -> dict[str, str]:
    """``"kimchi/x"`` or ``"x"`` -> ``{providerID, modelID}``."""
    provider, _, model_id = model.rpartition("/")
    return {"providerID": provider or PROVIDER_ID, "modelID": model_id}


def message_text(message: dict[str, Any]) -> str:
    """Concatenated text parts of a ``{info, parts}`` message."""
    return "".join(p.get("text", "") for p in message.get("parts", []) if p.get("type") == "text")


class ServeError(RuntimeError):
    """A non-2xx answer from opencode serve."""

    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body[:2000]}")
        self.status, self.body = status, body


@dataclass
class ServeClient:
    """Minimal client of the ``opencode serve`` HTTP API for one project directory."""

    base_url: str
    directory: Path
    pid: int
    stdout_path: Path
    stderr_path: Path
    leftover_pids: list[int] = field(default_factory=list)  # set on exit: processes serve left behind

    def request(self, method: str, path: str, body: Any = None, timeout: float = HTTP_TIMEOUT_S) -> Any:
        query = urllib.parse.urlencode({"directory": str(self.directory)})
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base_url}{path}?{query}", data=data, method=method, headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise ServeError(exc.code, exc.read().decode(errors="replace")) from None
        return json.loads(raw) if raw else None

    def health(self) -> dict[str, Any]:
        return self.request("GET", "/global/health")

    def create_session(self, title: str | None = "e2e") -> str:
        """A new session id; a title skips the title-generation LLM call."""
        return self.request("POST", "/session", {} if title is None else {"title": title})["id"]

    def _prompt_body(self, text: str, model: str | None, agent: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"parts": [{"type": "text", "text": text}]}
        if model:
            body["model"] = model_ref(model)
        if agent:
            body["agent"] = agent
        return body

    def send(
        self,
        session_id: str,
        text: str,
        *,
        model: str | None = None,
        agent: str | None = None,
        timeout: float = HTTP_TIMEOUT_S,
    ) -> dict[str, Any]:
        """Send a user message and block until the assistant message is done (``{info, parts}``)."""
        return self.request("POST", f"/session/{session_id}/message", self._prompt_body(text, model, agent), timeout)

    def send_async(self, session_id: str, text: str, *, model: str | None = None, agent: str | None = None) -> None:
        self.request("POST", f"/session/{session_id}/prompt_async", self._prompt_body(text, model, agent))

    def summarize(self, session_id: str, model: str, *, timeout: float = HTTP_TIMEOUT_S) -> Any:
        return self.request("POST", f"/session/{session_id}/summarize", model_ref(model), timeout)

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/session/{session_id}/message")

    def session(self, session_id: str) -> dict[str, Any]:
        return self.request("GET", f"/session/{session_id}")

    def busy_sessions(self) -> dict[str, Any]:
        return self.request("GET", "/session/status") or {}

    @contextlib.contextmanager
    def events(self) -> Iterator[EventStream]:
        """Collect ``GET /event`` SSE events in the background while the block runs."""
        stream = EventStream(self.base_url, self.directory)
        try:
            stream.wait_for(lambda e: e.get("type") == "server.connected", timeout=10)
            yield stream
        finally:
            stream.close()


class EventStream:
    """Background reader of the server's SSE bus; ``wait_for`` gives bounded waits."""

    def __init__(self, base_url: str, directory: Path):
        parsed = urllib.parse.urlsplit(base_url)
        self._conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=HTTP_TIMEOUT_S)
        query = urllib.parse.urlencode({"directory": str(directory)})
        self._conn.request("GET", f"/event?{query}", headers={"accept": "text/event-stream"})
        self._resp = self._conn.getresponse()
        self._events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._pump, name="opencode-sse", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        # close() tears the socket down under the reader; http.client then fails in assorted ways.
        with contextlib.suppress(Exception):
            while not self._closed:
                line = self._resp.readline()
                if not line:
                    break
                if line.startswith(b"data:"):
                    with contextlib.suppress(ValueError):
                        event = json.loads(line[5:].strip())
                        with self._cond:
                            self._events.append(event)
                            self._cond.notify_all()

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._events)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        """The first event (seen so far or arriving within ``timeout``) matching ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self._events:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no matching SSE event within {timeout}s; saw {[e.get('type') for e in self._events][-30:]}"
                    )
                self._cond.wait(remaining)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            if self._conn.sock is not None:
                self._conn.sock.shutdown(socket.SHUT_RDWR)
        self._conn.close()
        self._thread.join(timeout=5)
