"""The one exception hierarchy of coincast.

Every message is written for the person who sees it: what is wrong, then what to do.
The server maps each class to an HTTP status (``status_code``); the CLI prints the
message and exits 1. Nothing else in coincast raises bare exceptions at users.

    CoincastError                       500  (unexpected; should not escape)
    ├── ConfigError                     500  bad settings at start-up
    ├── DataSourceError                 502  CoinGecko failed after retries
    │   ├── SourceUnreachableError      503  no connection / DNS / timeouts
    │   ├── RateLimitedError            429  still rate-limited after retries
    │   ├── ApiKeyError                 502  missing/wrong key or wrong host for the plan
    │   └── UnknownCoinError            404  CoinGecko has no such coin id
    ├── DataError                       422  data we hold is not usable as asked
    │   ├── NoDataError                 404  nothing stored for a coin
    │   ├── InsufficientHistoryError    422  too few clean days for the window
    │   └── CsvImportError              422  a CSV file is malformed (file, line, problem)
    ├── ModelError                      422
    │   ├── ModelFormatError            400  model.json / weights do not describe a valid model
    │   ├── ModelNotFoundError          404  no such model or version
    │   ├── TrainingCancelledError      409  training was cancelled by the user
    │   └── JobNotFoundError            404  no such training job (for this user)
    ├── StoreUnavailableError           503  metadata DB or blob store not reachable
    ├── AuthError                       401  missing or unknown token
    │   └── ForbiddenError              403  token valid but not for this resource
    └── InvalidRequestError             400  a request's parameters are wrong
        └── PayloadTooLargeError        413
"""

from __future__ import annotations

__all__ = [
    "ApiKeyError",
    "AuthError",
    "CoincastError",
    "ConfigError",
    "CsvImportError",
    "DataError",
    "DataSourceError",
    "ForbiddenError",
    "InsufficientHistoryError",
    "InvalidRequestError",
    "JobNotFoundError",
    "ModelError",
    "ModelFormatError",
    "ModelNotFoundError",
    "NoDataError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "SourceUnreachableError",
    "StoreUnavailableError",
    "TrainingCancelledError",
    "UnknownCoinError",
]


class CoincastError(Exception):
    """Base of every error coincast raises on purpose; ``str(exc)`` is the user message."""

    status_code: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(CoincastError):
    status_code = 500


class DataSourceError(CoincastError):
    status_code = 502


class SourceUnreachableError(DataSourceError):
    status_code = 503


class RateLimitedError(DataSourceError):
    status_code = 429

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ApiKeyError(DataSourceError):
    status_code = 502


class UnknownCoinError(DataSourceError):
    status_code = 404


class DataError(CoincastError):
    status_code = 422


class NoDataError(DataError):
    status_code = 404


class InsufficientHistoryError(DataError):
    status_code = 422


class CsvImportError(DataError):
    status_code = 422


class ModelError(CoincastError):
    status_code = 422


class ModelFormatError(ModelError):
    status_code = 400


class ModelNotFoundError(ModelError):
    status_code = 404


class TrainingCancelledError(ModelError):
    status_code = 409


class JobNotFoundError(ModelError):
    status_code = 404


class StoreUnavailableError(CoincastError):
    status_code = 503


class AuthError(CoincastError):
    status_code = 401


class ForbiddenError(AuthError):
    status_code = 403


class InvalidRequestError(CoincastError):
    status_code = 400


class PayloadTooLargeError(InvalidRequestError):
    status_code = 413
