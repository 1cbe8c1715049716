"""Where requests go: kie.ai's hosts, the environment variables that move them, and the one loopback rule.

Every question "is this host this machine?" in the library (a plain-http base URL, a plain-http callback
URL, a loopback callback sent to a remote kie.ai, the emulator's callback delivery) is answered by
``is_loopback_host``, judged from the name alone (no DNS lookup): ``localhost`` and its subdomains
(RFC 6761 §6.3), or a loopback IP literal (127.0.0.0/8, ``::1``).
"""

from __future__ import annotations

import ipaddress
import os
import urllib.request
from urllib.parse import urlsplit

__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_UPLOAD_BASE_URL",
    "UPLOAD_BASE_URL_ENV",
    "WEBHOOK_KEY_ENV",
    "env_proxies",
    "insecure_http_problem",
    "is_loopback_host",
    "is_loopback_url",
    "may_be_remote",
    "resolve_url",
]

DEFAULT_BASE_URL = "https://api.kie.ai"
"""kie.ai's API host (createTask, recordInfo, credits, download-url)."""
DEFAULT_UPLOAD_BASE_URL = "https://kieai.redpandaai.co"
"""kie.ai's File Upload API host (reference §"Hosts and auth": api.kie.ai answers 404 for uploads)."""
BASE_URL_ENV = "KIE_BASE_URL"
"""The environment variable naming the API host when ``base_url`` is not given."""
UPLOAD_BASE_URL_ENV = "KIE_UPLOAD_BASE_URL"
"""The environment variable naming the File Upload API host when ``upload_base_url`` is not given."""
WEBHOOK_KEY_ENV = "KIE_WEBHOOK_HMAC_KEY"
"""The environment variable the clients, the receivers and the emulator read the webhook HMAC key from."""

# Names reserved by RFC 2606 / RFC 6761 never resolve to a remote kie.ai: the in-process emulator serves
# https://api.kie-emulator.test, and its callbacks reach this machine's loopback.
_RESERVED_SUFFIXES = (".test", ".localhost", ".invalid", ".example")


def is_loopback_host(host: str | None) -> bool:
    """Whether ``host`` names this machine by itself: ``localhost`` (or ``*.localhost``) or a loopback
    IP literal (127.0.0.0/8, ``::1``, with or without brackets); never resolved."""
    if not host:
        return False
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is a loopback host (``is_loopback_host``); ``False`` for a URL that does
    not parse."""
    try:
        return is_loopback_host(urlsplit(url).hostname)
    except ValueError:
        return False


def may_be_remote(url: str) -> bool:
    """Whether an API host may be remote (kie.ai itself, a proxy): not loopback, nor a reserved name."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    return not is_loopback_host(host) and not host.endswith(_RESERVED_SUFFIXES)


def resolve_url(given: str | None, variable: str, default: str) -> tuple[str, str]:
    """The name to blame if it is bad, and a host URL: the argument wins, then the environment variable
    (as ``OPENAI_BASE_URL`` for openai-python; the loopback emulator prints these exports), then kie.ai."""
    if given is not None:
        return ("base_url" if variable == BASE_URL_ENV else "upload_base_url"), given
    from_env = os.environ.get(variable, "").strip()
    return (variable, from_env) if from_env else (variable, default)


def insecure_http_problem(url: str) -> str | None:
    """Why a checked host URL may not carry the API key (plain http to a host other than loopback: the
    key would cross every hop in clear text), or ``None``."""
    parts = urlsplit(url)
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return (
            f"plain http to {parts.hostname!r} would send the API key unencrypted; use https, or pass "
            "allow_insecure_http=True if you really mean it"
        )
    return None


def env_proxies() -> bool:
    """Whether the environment names an HTTP(S) proxy: httpx honours ``HTTP(S)_PROXY`` when it builds
    its own transport, so a client keeps that rather than its deadline transport (the deadline is then
    checked between chunks only)."""
    return any(k in ("http", "https", "all") for k in urllib.request.getproxies())
