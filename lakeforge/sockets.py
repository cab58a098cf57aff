"""Listening sockets for LakeForge's servers (the API, the local workspace)."""

from __future__ import annotations

import socket

from lakeforge.errors import ConfigurationError


def bind_tcp(host: str, port: int, *, setting: str, fix: str) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0 picks a free one); listening is left to the caller.

    A taken port is one clear error naming ``setting``, not a traceback.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so, and without it
    # every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        message = f"cannot listen on {host}:{port} ({error.strerror})"
        raise ConfigurationError(message, field=setting, fix=fix) from None
    return sock
