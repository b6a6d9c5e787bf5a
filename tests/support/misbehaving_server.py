"""A raw HTTP endpoint on 127.0.0.1 that misbehaves on purpose (silent, trickling, malformed, failing), for tests
of the brain's network edges: each connection's request is read, then a behaviour decides what comes back."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

TRICKLE_EVERY_S = 0.05
TRICKLE_LEAD_BYTES = 400  # whitespace before the body (valid JSON): 20 s of bytes before any content arrives
SILENT_MAX_S = 60.0  # a silent endpoint holds the connection until the client hangs up, or this long


def completion(content: object) -> bytes:
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()


def http(status: str, body: bytes, content_type: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class MisbehavingServer:
    """A raw TCP server on 127.0.0.1 that reads one HTTP request per connection and then runs `behave`."""

    def __init__(self, behave: Callable[[socket.socket], None]) -> None:
        self.behave = behave
        self.requests = 0
        self.bodies: list[bytes] = []
        self._received = threading.Condition()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/openai/v1"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            while len(body) < length:
                body += conn.recv(65536)
            with self._received:
                self.requests += 1
                self.bodies.append(head + b"\r\n\r\n" + body)
                self._received.notify_all()
            try:
                self.behave(conn)
            except OSError:
                pass

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> int:
        """The request count once it reaches `count` (or after `timeout`): a client may give up before this server's
        thread has read what it sent, so a count taken at once can lag on a loaded machine."""
        with self._received:
            self._received.wait_for(lambda: self.requests >= count, timeout)
            return self.requests

    def close(self) -> None:
        self._stop.set()
        self._sock.close()


def answer(payload: bytes) -> Callable[[socket.socket], None]:
    return lambda conn: conn.sendall(payload)


def silent(conn: socket.socket) -> None:
    """Never answers: holds the connection until the client hangs up (so only the client's own limits end a call)."""
    conn.settimeout(SILENT_MAX_S)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def trickle(conn: socket.socket, body: bytes | None = None) -> None:
    """A 200 whose body arrives one byte at a time, after a long run of leading whitespace: every read succeeds, and
    the content comes far too late for any deadline under test."""
    body = b" " * TRICKLE_LEAD_BYTES + (completion("coding") if body is None else body)
    conn.sendall(http("200 OK", body)[: -len(body)])
    for byte in body:
        conn.sendall(bytes([byte]))
        time.sleep(TRICKLE_EVERY_S)


def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[socket.socket], None]], MisbehavingServer]]:
    """Start misbehaving servers on demand; all are closed when the test ends."""
    servers: list[MisbehavingServer] = []

    def start(behave: Callable[[socket.socket], None]) -> MisbehavingServer:
        servers.append(MisbehavingServer(behave))
        return servers[-1]

    yield start
    for server in servers:
        server.close()
