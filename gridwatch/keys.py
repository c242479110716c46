"""CURVE key pairs for edge agents and the aggregator (ZeroMQ's certificate files).

``generate("agg", Path("keys"))`` writes ``keys/agg.key`` (public, safe to copy to
agents) and ``keys/agg.key_secret`` (secret: keep it on the aggregator only). An
aggregator authorises agents by the folder of their ``.key`` files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class KeyFileError(ValueError):
    """A key file is missing or is not a ZeroMQ certificate.

    Recover by generating keys with ``gridwatch keys generate NAME --out DIR`` and
    pointing the config at the right file (``.key_secret`` for a secret key).
    """


@dataclass(frozen=True)
class KeyPair:
    public: bytes
    secret: bytes


def generate(name: str, out_dir: Path) -> tuple[Path, Path]:
    """Write ``NAME.key`` and ``NAME.key_secret`` in ``out_dir``; return both paths."""
    import zmq.auth

    out_dir.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(str(out_dir), name)
    Path(secret).chmod(0o600)
    return Path(public), Path(secret)


def load_pair(secret_file: Path) -> KeyPair:
    """Both keys from a ``.key_secret`` file."""
    import zmq.auth

    try:
        public, secret = zmq.auth.load_certificate(str(secret_file))
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot read CURVE key file {secret_file}: {exc}") from None
    if not secret:
        raise KeyFileError(f"{secret_file} holds no secret key (use the .key_secret file)")
    return KeyPair(public=public, secret=secret)


def load_public(key_file: Path) -> bytes:
    """The public key from a ``.key`` (or ``.key_secret``) file."""
    import zmq.auth

    try:
        public, _secret = zmq.auth.load_certificate(str(key_file))
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot read CURVE key file {key_file}: {exc}") from None
    return bytes(public)
