"""Keep camera passwords out of everything a person or a log can read.

Camera URLs carry credentials (``rtsp://admin:pass@10.0.0.7/stream1``). They are kept in
the registry because the edge agent needs them, but every place that prints a URL goes
through :func:`mask_url` or :func:`redact`, and :class:`RedactingFilter` guards logging.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://user:password@  (password may contain anything but '@', '/', and whitespace)
_CREDENTIALS = re.compile(r"(?P<prefix>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)(?P<secret>[^\s@/]+)@")


def mask_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``.

    >>> mask_url("rtsp://admin:s3cret@10.1.2.3:554/Streaming/Channels/102")
    'rtsp://admin:***@10.1.2.3:554/Streaming/Channels/102'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    if parts.password is None:
        return redact(url)
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return redact(url)
    netloc = f"{user}:{MASK}@{host}" + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact(text: str) -> str:
    """Mask every credential-bearing URL inside free text (error messages, log lines)."""
    return _CREDENTIALS.sub(lambda m: f"{m.group('prefix')}{MASK}@", text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks passwords in the formatted message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.getMessage()
            except (TypeError, ValueError):
                record.msg = str(record.msg)
            record.args = None
        record.msg = redact(str(record.msg))
        return True


def install_log_redaction() -> None:
    """Attach :class:`RedactingFilter` to every handler of the root logger."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
