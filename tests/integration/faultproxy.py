"""A TCP proxy on loopback that can make the service behind it vanish or crawl.

Real network faults, not mocks: the coincast server talks to PostgreSQL or S3 through
this proxy exactly as it would through a flaky network. ``down()`` resets every open
connection and every new one (a crashed or unreachable service); ``slow(seconds)``
holds each chunk back (an overloaded one); ``up()`` restores service.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

__all__ = ["FaultProxy"]


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the peer sees 'connection reset', not a clean EOF."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._mode = "up"
        self._delay = 0.0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        self.connections = 0
        threading.Thread(target=self._accept_loop, daemon=True, name="faultproxy").start()

    # --- control ---------------------------------------------------------------------

    def up(self) -> None:
        with self._lock:
            self._mode, self._delay = "up", 0.0

    def down(self) -> None:
        """Unreachable: cut every open connection and reset every new one."""
        with self._lock:
            self._mode = "down"
            victims = list(self._open)
            self._open.clear()
        for sock in victims:
            _reset(sock)

    def slow(self, seconds: float, *, cut_open: bool = True) -> None:
        """Delay every chunk by ``seconds``; by default also cut open connections (a
        blip), so pooled connections must be re-made through the slow path."""
        with self._lock:
            self._mode, self._delay = "slow", seconds
            victims = list(self._open) if cut_open else []
            if cut_open:
                self._open.clear()
        for sock in victims:
            _reset(sock)

    def close(self) -> None:
        self._closed = True
        self.down()
        with contextlib.suppress(OSError):
            self._listener.close()

    # --- plumbing --------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                mode = self._mode
            if mode == "down":
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
                self.connections += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self._lock:
                    delay = self._delay if self._mode == "slow" else 0.0
                if delay:
                    time.sleep(delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(src)
                self._open.discard(dst)
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
