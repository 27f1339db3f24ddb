"""Errors only an HTTP request can make: they belong to the server, not the library.

The library's own rejections are ``coincast.errors.ParameterError``; these two are about
the request itself (a missing multipart field, a user that already exists, a body over
the size limit). Both sit in the ``CoincastError`` tree so the app's one handler answers
them like every other error.
"""

from __future__ import annotations

from coincast.errors import CoincastError

__all__ = ["InvalidRequestError", "PayloadTooLargeError"]


class InvalidRequestError(CoincastError):
    """A request's shape or parameters are wrong (400)."""


class PayloadTooLargeError(InvalidRequestError):
    """A request body over the server's limit (413)."""
