"""Starting the studio: a socket on 127.0.0.1, a fresh secret, uvicorn without access log."""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass

import uvicorn

from chairside.errors import ChairsideError
from chairside.studio.security import Guard
from chairside.workspace import Workspace


@dataclass
class Running:
    server: uvicorn.Server
    sock: socket.socket
    port: int
    secret: str

    @property
    def url(self) -> str:
        """The address to open: it carries the secret, exchanged for a cookie at once."""
        return f"http://127.0.0.1:{self.port}/login?token={self.secret}"

    def run(self) -> None:
        """Serve until Ctrl-C (or `server.should_exit`)."""
        self.server.run(sockets=[self.sock])


def make_server(workspace: Workspace, *, port: int = 0) -> Running:
    """Bind 127.0.0.1:`port` (0: any free port) and prepare the app; nothing served yet.

    The socket is bound and listening before the address is printed or a browser opened,
    so the first request waits in the queue instead of failing.
    """
    from chairside.studio.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise ChairsideError(
            f"Cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}): another program "
            "uses it. Choose another port with --port, or leave it out to take a free one."
        ) from None
    sock.listen(128)
    chosen = sock.getsockname()[1]
    secret = secrets.token_urlsafe(32)
    app = create_app(workspace, Guard(secret, chosen))
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # request lines could carry names of campaigns and files
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=30,
    )
    return Running(uvicorn.Server(config), sock, chosen, secret)
