"""The TLS context the catalogue's HTTP client verifies with, built once per process. OpenSSL reads the CA bundle
(~20 ms) without holding the interpreter lock, so a start that will fetch the catalogue has it read on a thread while
the brain's modules import, instead of on the way to the `config` answer. Built with `ssl` and `certifi` alone (httpx
is imported by the fetch, once the brain's modules are in: two threads importing only take turns)."""

from __future__ import annotations

import os
import ssl
import threading

_building = threading.Lock()
_context: ssl.SSLContext | None = None


def context() -> ssl.SSLContext:
    """The verifying context httpx builds by default: SSL_CERT_FILE, else SSL_CERT_DIR, else certifi's CA bundle.
    Single-flight: a caller arriving while another thread builds it waits for that one."""
    global _context
    with _building:
        if _context is None:
            _context = _default_context()
        return _context


def prepare() -> None:
    """Build the context on a daemon thread; the caller goes on at once."""
    threading.Thread(target=_build, name="kimchi-tls", daemon=True).start()


def _default_context() -> ssl.SSLContext:
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _build() -> None:
    try:
        context()
    except Exception:  # the fetch builds it again, and logs why it fails there
        return
