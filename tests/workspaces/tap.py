"""A recording pass-through in front of a Unix socket.

podman's Docker API accepts a container's device requests (GPUs) but does not keep them, so
``docker inspect`` cannot show them.  The tests put this tap between the hub and the engine
and read the create request off the wire: exactly what a Docker engine would be asked for.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import socketserver
import threading
from pathlib import Path


class SocketTap:
    """Forward ``listen`` to ``target``; keep every byte clients send."""

    def __init__(self, target: str, listen: Path) -> None:
        self.target = target
        self.listen = listen
        self.sent = bytearray()
        self._lock = threading.Lock()
        tap = self

        class Forward(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                upstream = socket.socket(socket.AF_UNIX)
                upstream.connect(tap.target)
                back = threading.Thread(target=_pump, args=(upstream, self.request, None), daemon=True)
                back.start()
                _pump(self.request, upstream, tap)
                back.join(30)
                upstream.close()

        self._server = socketserver.ThreadingUnixStreamServer(str(listen), Forward)
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"unix://{self.listen}"

    def record(self, data: bytes) -> None:
        with self._lock:
            self.sent += data

    def created_containers(self) -> list[dict]:
        """The JSON bodies of the ``POST /containers/create`` requests seen so far."""
        with self._lock:
            stream = bytes(self.sent)
        bodies = []
        decoder = json.JSONDecoder()
        for match in re.finditer(rb"POST /[^ ]*containers/create[^ ]* HTTP/1\.1\r\n.*?\r\n\r\n", stream, re.S):
            text = stream[match.end():].decode("utf-8", "replace")
            bodies.append(decoder.raw_decode(text)[0])
        return bodies

    def __enter__(self) -> SocketTap:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.listen.unlink(missing_ok=True)


def _pump(source: socket.socket, sink: socket.socket, tap: SocketTap | None) -> None:
    try:
        while data := source.recv(65536):
            if tap is not None:
                tap.record(data)
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
