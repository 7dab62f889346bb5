"""A fake platform API server on 127.0.0.1 that records every call (tests point the outbound clients'
`LOOPKEEPER_*__API_URL` at it). Shared by the Slack, DingTalk and WeCom tests.

    with FakeServer() as srv:
        srv.route("POST", "/api/chat.postMessage", lambda req: (200, {"ok": True}))
        ...  # code under test calls srv.url + "/api/chat.postMessage"
        assert srv.calls[0].json["channel"] == "C1"

A route's handler gets the recorded `Call` and returns (status, body) or (status, body, headers); a body that
is not bytes/str is sent as JSON. Unrouted paths answer 404 with a JSON error.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())


Handler = Callable[[Call], tuple[Any, ...]]


@dataclass
class FakeServer:
    calls: list[Call] = field(default_factory=list)
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)

    def route(self, method: str, path: str, handler: Handler | None = None, *, body: Any = None) -> None:
        """Answer `method path` with `handler(call)`, or always with 200 and `body`."""
        self.routes[(method.upper(), path)] = handler or (lambda _c: (200, body if body is not None else {}))

    def __enter__(self) -> FakeServer:
        fake = self

        class _H(BaseHTTPRequestHandler):
            def _do(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                call = Call(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                fake.calls.append(call)
                handler = fake.routes.get((self.command, parts.path))
                out = handler(call) if handler else (404, {"error": f"no route {self.command} {parts.path}"})
                status, payload = out[0], out[1]
                headers = out[2] if len(out) > 2 else {}
                if isinstance(payload, str):
                    data, ctype = payload.encode(), "text/plain; charset=utf-8"
                elif isinstance(payload, bytes):
                    data, ctype = payload, "application/octet-stream"
                else:
                    data, ctype = json.dumps(payload).encode(), "application/json; charset=utf-8"
                self.send_response(status)
                self.send_header("Content-Type", headers.pop("Content-Type", ctype))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _do

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]
