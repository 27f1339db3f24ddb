"""Which HTTP status, and which ``type`` in the JSON body, each ``CoincastError`` gets.

The library's errors know nothing of HTTP; this table is the one place that decides.
A class not listed takes the entry of its nearest listed ancestor (its MRO), so a new
subclass answers like its parent until it is given a status of its own.

    CoincastError                       500  (unexpected; should not escape)
    ├── ConfigError                     500
    ├── ParameterError                  400  (on the wire: "InvalidRequestError")
    ├── DataSourceError                 502
    │   ├── SourceUnreachableError      503
    │   ├── RateLimitedError            429
    │   ├── ApiKeyError                 502
    │   └── UnknownCoinError            404
    ├── DataError                       422
    │   ├── NoDataError                 404
    │   │   └── NotStoredError          404  (offline: never a 503 for a read)
    │   ├── InsufficientHistoryError    422
    │   └── CsvImportError              422
    ├── ModelError                      422
    │   ├── ModelFormatError            400
    │   ├── ModelTooLargeError          413  (on the wire: "PayloadTooLargeError")
    │   ├── ModelNotFoundError          404
    │   ├── TrainingCancelledError      409
    │   └── JobNotFoundError            404
    ├── StoreUnavailableError           503
    ├── AuthError                       401
    │   └── ForbiddenError              403
    └── InvalidRequestError (server)    400
        └── PayloadTooLargeError        413

The wire names of the two renamed library errors stay those the REST API has always
sent (clients and the web page switch on ``error.type``).
"""

from __future__ import annotations

from coincast import errors as e
from coincast.server.errors import InvalidRequestError, PayloadTooLargeError

__all__ = ["STATUS", "status_for", "wire_type"]

STATUS: dict[type[e.CoincastError], int] = {
    e.CoincastError: 500,
    e.ConfigError: 500,
    e.ParameterError: 400,
    e.DataSourceError: 502,
    e.SourceUnreachableError: 503,
    e.RateLimitedError: 429,
    e.ApiKeyError: 502,
    e.UnknownCoinError: 404,
    e.DataError: 422,
    e.NoDataError: 404,
    e.NotStoredError: 404,
    e.InsufficientHistoryError: 422,
    e.CsvImportError: 422,
    e.ModelError: 422,
    e.ModelFormatError: 400,
    e.ModelTooLargeError: 413,
    e.ModelNotFoundError: 404,
    e.TrainingCancelledError: 409,
    e.JobNotFoundError: 404,
    e.StoreUnavailableError: 503,
    e.AuthError: 401,
    e.ForbiddenError: 403,
    InvalidRequestError: 400,
    PayloadTooLargeError: 413,
}

_WIRE_NAMES: dict[type[e.CoincastError], str] = {
    e.ParameterError: "InvalidRequestError",
    e.ModelTooLargeError: "PayloadTooLargeError",
}


def status_for(cls: type[e.CoincastError]) -> int:
    """The status of ``cls``'s nearest listed class (``CoincastError`` is always listed)."""
    for klass in cls.__mro__:
        if klass in STATUS:
            return STATUS[klass]
    return 500


def wire_type(cls: type[e.CoincastError]) -> str:
    """The ``error.type`` a client sees: the class name, except for the renamed two."""
    return _WIRE_NAMES.get(cls, cls.__name__)
