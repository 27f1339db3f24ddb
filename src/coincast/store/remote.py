"""A coincast server's model store, over HTTP: push a version up, pull one down.

It speaks the routes TF.js uses (a multipart upload with ``model.json`` and
``model.weights.bin``; the two files downloaded from a version's URL), so what works here
works in a browser. The server's JSON errors come back as the ``CoincastError`` their
``type`` names (``AuthError``, ``ModelNotFoundError``, …), prefixed with the status; a
server that cannot be reached is a ``StoreUnavailableError``.

>>> with RemoteModels.from_settings(settings) as remote:            # doctest: +SKIP
...     remote.push("alice", "btc", model_json, weights)["version"]
3
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from coincast import errors
from coincast.errors import AuthError, CoincastError, ParameterError, StoreUnavailableError
from coincast.settings import Settings
from coincast.store.registry import WEIGHTS_PATH

__all__ = ["RemoteModels"]

# The two names the REST API keeps for library errors (see coincast.server.error_status).
_RENAMED: dict[str, type[CoincastError]] = {
    "InvalidRequestError": ParameterError,
    "PayloadTooLargeError": errors.ModelTooLargeError,
}


class RemoteModels:
    """The model API of the server at ``url`` (``http://HOST:PORT``), as ``token``'s user."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 120.0) -> None:
        self.api = url.rstrip("/") + "/api/v1"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=self.api, headers=headers, timeout=timeout)

    @classmethod
    def from_settings(
        cls, settings: Settings, url: str | None = None, token: str | None = None
    ) -> RemoteModels:
        """``url``/``token`` if given, else ``COINCAST_REMOTE_URL`` / ``COINCAST_REMOTE_TOKEN``."""
        url = url or settings.remote_url
        if not url:
            raise ParameterError(
                "Give the server: --server http://HOST:PORT (or COINCAST_REMOTE_URL)."
            )
        if token is None and settings.remote_token is not None:
            token = settings.remote_token.get_secret_value()
        return cls(url, token)

    def push(
        self,
        user: str,
        name: str,
        model_json: bytes,
        weights: bytes,
        *,
        parent: int | None = None,
    ) -> dict[str, Any]:
        """Upload as the server's next version of ``user/name``; the server's version info."""
        files = {
            "model.json": ("model.json", model_json, "application/json"),
            WEIGHTS_PATH: (WEIGHTS_PATH, weights, "application/octet-stream"),
        }
        params = {"parent": parent} if parent else None
        response = self._send("POST", f"/users/{user}/models/{name}", files=files, params=params)
        body: dict[str, Any] = response.json()
        return body

    def pull(self, user: str, name: str, version: str = "latest") -> tuple[bytes, bytes]:
        """(model.json, weights) of a version on the server, byte for byte."""
        base = f"/users/{user}/models/{name}/versions/{version}"
        model_json = self._send("GET", f"{base}/model.json").content
        weights = self._send("GET", f"{base}/{WEIGHTS_PATH}").content
        return model_json, weights

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteModels:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreUnavailableError(
                f"Cannot reach {self.api}: {exc}. Is the server running?"
            ) from None
        if response.status_code >= 400:
            raise _refusal(response)
        return response


def _refusal(response: httpx.Response) -> CoincastError:
    """The server's error as the class it names; unknown names by status (401/403: auth)."""
    try:
        err = response.json()["error"]
        message, kind = err["message"], err["type"]
    except (ValueError, KeyError, TypeError):
        message, kind = f"HTTP {response.status_code}", ""
    cls: type[CoincastError] = ParameterError
    if kind in errors.__all__:
        cls = getattr(errors, kind)
    elif kind in _RENAMED:
        cls = _RENAMED[kind]
    elif response.status_code in (401, 403):
        cls = AuthError
    elif response.status_code >= 500:
        cls = StoreUnavailableError
    return cls(f"The server refused ({response.status_code} {kind}): {message}")
