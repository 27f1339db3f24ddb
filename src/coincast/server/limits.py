"""A request-body size limit enforced while the body streams in.

Checking ``Content-Length`` alone is not enough (chunked uploads have none), and letting
the form parser read a 10 GB body before the model store refuses it would fill the disk.
This ASGI middleware refuses a declared-too-large body at once and counts the bytes of
any other, raising ``PayloadTooLargeError`` from ``receive`` the moment the limit is
passed; the app's CoincastError handler turns that into a JSON 413.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coincast.server.errors import PayloadTooLargeError

__all__ = ["BodySizeLimit"]


# Model uploads: POST/PUT /api/v1/users/{user}/models/{name} (exactly four segments after v1).
_UPLOAD = re.compile(r"^/api/v1/users/[^/]+/models/[^/]+/?$")


class BodySizeLimit:
    """``max_bytes`` for model uploads, ``other_bytes`` (JSON bodies) for everything else."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, other_bytes: int = 1 << 20) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.other_bytes = other_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope.get("method") in ("POST", "PUT") and _UPLOAD.match(scope.get("path", ""))
        limit = self.max_bytes if upload else self.other_bytes
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await _refuse(send, declared, limit)
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLargeError(_message(seen, limit, "at least "))
            return message

        await self.app(scope, counted, send)


def _message(size: int, limit: int, qualifier: str = "") -> str:
    return (
        f"The request body is {qualifier}{size} bytes; this server accepts at most {limit}. "
        "Raise COINCAST_MAX_WEIGHTS_BYTES / COINCAST_MAX_MODEL_JSON_BYTES on the server if the "
        "model is really this large."
    )


async def _refuse(send: Send, size: int, limit: int) -> None:
    import json

    body = json.dumps(
        {"error": {"type": "PayloadTooLargeError", "message": _message(size, limit)}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
