"""server/nodelay.py: TCP_NODELAY on the server's listening socket and on the connections accepted from it."""

import os
import socket

import pytest

from server import nodelay

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="finds sockets through /proc/self/fd")


def nodelay_on(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_listener_and_its_connections_get_nodelay_and_stay_usable():
    # Bound the way Streamlit 1.67 binds its server socket: protocol number left at 0.
    listener = socket.socket(family=socket.AF_INET)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    try:
        assert listener.proto == 0 and not nodelay_on(accepted)  # what asyncio leaves as it is

        assert port in nodelay.disable_nagle()
        assert nodelay_on(listener) and nodelay_on(accepted)
        # The client end is not a connection accepted from the listener: left as it was.
        assert not nodelay_on(client)

        # A connection accepted later inherits the setting from the listener.
        late_client = socket.create_connection(("127.0.0.1", port))
        late, _ = listener.accept()
        assert nodelay_on(late)
        # Every socket is still open and works: disable_nagle detached its own handles without closing them.
        for a, b in ((client, accepted), (late_client, late)):
            a.sendall(b"ping")
            assert b.recv(4) == b"ping"
        late.close()
        late_client.close()
    finally:
        for s in (client, accepted, listener):
            s.close()


def test_nothing_to_do_without_a_listening_socket(monkeypatch):
    monkeypatch.setattr(nodelay, "_FD_DIR", "/nonexistent")
    assert nodelay.disable_nagle() == []
