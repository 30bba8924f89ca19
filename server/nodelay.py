"""Turn Nagle's algorithm off on the server's sockets, so the end of a rerun is not held back 40 ms.

Streamlit 1.67 binds its listening socket itself (`socket.socket(family=...)`, protocol number left at 0)
and hands it to uvicorn. Every connection accepted from it inherits that 0, and asyncio enables
TCP_NODELAY on a new connection only when the socket says IPPROTO_TCP (the same bug is reported against
uvicorn's pre-bound sockets, Kludex/uvicorn#3149). So Nagle's algorithm stays on for every browser's
WebSocket: after a large message (a figure), the next small one waits until the browser acknowledges the
large one, and the viewer's system delays that acknowledgement (40 ms on Linux, longer on some others).
bench/bench_schedule_page.py measures the page both ways in one run; docs/PERFORMANCE.md has the numbers.

On Linux an accepted socket inherits TCP_NODELAY from its listening socket, so setting it once on the
listener covers every later connection; the connections already open are set too. Elsewhere this does
nothing (there is no /proc/self/fd to find the sockets by).
"""

from __future__ import annotations

import os
import socket

from streamlit.logger import get_logger

_LOG = get_logger(__name__)  # Streamlit's logger: the line shows in the server's log
_FD_DIR = "/proc/self/fd"


def _tcp_sockets():
    """(socket object over the fd, listening?) for every TCP socket this process holds. The caller must
    detach() each object, so the fd stays open and owned by whoever opened it."""
    try:
        fds = os.listdir(_FD_DIR)
    except OSError:
        return
    for name in fds:
        try:
            if not os.readlink(f"{_FD_DIR}/{name}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=int(name))
        except (OSError, ValueError):  # closed since the listing, or not a socket after all
            continue
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            try:
                listening = bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
            except OSError:
                listening = False
            yield sock, listening
        else:
            sock.detach()


def _set(sock: socket.socket) -> int | None:
    """TCP_NODELAY on; the socket's local port, or None if it has closed meanwhile."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock.getsockname()[1]
    except OSError:
        return None


def disable_nagle() -> list[int]:
    """Set TCP_NODELAY on this process's listening TCP sockets and on the connections accepted from them.
    Returns the listening ports; an empty list where there are none (AppTest) or no /proc."""
    found = list(_tcp_sockets())
    try:
        # Listeners first: a connection accepted from here on inherits the setting.
        ports = {port for sock, listening in found if listening and (port := _set(sock)) is not None}
        for sock, listening in found:
            if not listening:
                try:
                    if sock.getsockname()[1] in ports:
                        _set(sock)
                except OSError:
                    pass
    finally:
        for sock, _ in found:
            sock.detach()
    if ports:
        _LOG.info("TCP_NODELAY set on the server's sockets (port %s)", ", ".join(map(str, sorted(ports))))
    return sorted(ports)
