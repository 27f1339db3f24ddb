"""The one exception hierarchy of coincast.

Every message is written for the person who sees it: what is wrong, then what to do.
The classes say what went wrong, not how a transport reports it: the server maps each
one to an HTTP status (``coincast.server.error_status``), the CLI prints the message and
exits 1. Nothing else in coincast raises bare exceptions at users.

    CoincastError                       unexpected; should not escape
    ├── ConfigError                     bad settings at start-up
    ├── ParameterError (ValueError)     a value given to coincast is out of range or unknown
    ├── DataSourceError                 CoinGecko failed after retries
    │   ├── SourceUnreachableError      no connection / DNS / timeouts
    │   ├── RateLimitedError            still rate-limited after retries
    │   ├── ApiKeyError                 missing/wrong key or wrong host for the plan
    │   └── UnknownCoinError            CoinGecko has no such coin id
    ├── DataError                       data we hold is not usable as asked
    │   ├── NoDataError                 nothing stored for a coin
    │   │   └── NotStoredError          not stored, and CoinGecko unreachable to fetch it
    │   ├── InsufficientHistoryError    too few clean days for the window
    │   └── CsvImportError              a CSV file is malformed (file, line, problem)
    ├── ModelError
    │   ├── ModelFormatError            model.json / weights do not describe a valid model
    │   ├── ModelTooLargeError          a model's files exceed the store's size limits
    │   ├── ModelNotFoundError          no such model or version
    │   ├── TrainingCancelledError      training was cancelled by the user
    │   └── JobNotFoundError            no such training job (for this user)
    ├── StoreUnavailableError           metadata DB or blob store not reachable
    └── AuthError                       missing or unknown token
        └── ForbiddenError              token valid but not for this resource

``ParameterError`` is also a ``ValueError``, so code that validates with
``except ValueError`` keeps working when coincast rejects a value.
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
    "JobNotFoundError",
    "ModelError",
    "ModelFormatError",
    "ModelNotFoundError",
    "ModelTooLargeError",
    "NoDataError",
    "NotStoredError",
    "ParameterError",
    "RateLimitedError",
    "SourceUnreachableError",
    "StoreUnavailableError",
    "TrainingCancelledError",
    "UnknownCoinError",
]


class CoincastError(Exception):
    """Base of every error coincast raises on purpose; ``str(exc)`` is the user message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(CoincastError):
    pass


class ParameterError(CoincastError, ValueError):
    """A value given to coincast (an argument, an option, a name) is out of range or unknown."""


class DataSourceError(CoincastError):
    pass


class SourceUnreachableError(DataSourceError):
    pass


class RateLimitedError(DataSourceError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ApiKeyError(DataSourceError):
    pass


class UnknownCoinError(DataSourceError):
    pass


class DataError(CoincastError):
    pass


class NoDataError(DataError):
    pass


class NotStoredError(NoDataError):
    """Not in the local store, and CoinGecko could not be reached to fetch it."""


class InsufficientHistoryError(DataError):
    pass


class CsvImportError(DataError):
    pass


class ModelError(CoincastError):
    pass


class ModelFormatError(ModelError):
    pass


class ModelTooLargeError(ModelError):
    pass


class ModelNotFoundError(ModelError):
    pass


class TrainingCancelledError(ModelError):
    pass


class JobNotFoundError(ModelError):
    pass


class StoreUnavailableError(CoincastError):
    pass


class AuthError(CoincastError):
    pass


class ForbiddenError(AuthError):
    pass
