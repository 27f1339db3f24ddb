"""``Annotated`` dependency aliases: the services, the caller, and access checks.

Access rules, in one place: a token names a user; that user reads and writes only models
under their own name; a model flagged public can be read (never written) by anyone,
even without a token. Another user's private model answers 403 whether or not it
exists, so probing names reveals nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from coincast.errors import AuthError, ForbiddenError
from coincast.server.job_runner import JobManager
from coincast.server.services import Services
from coincast.server.users import LOCAL_USER, UserStore
from coincast.settings import Settings
from coincast.store.registry import (
    NAME_PATTERN,
    VERSION_PATTERN,
    ModelRegistry,
    validate_name,
)

__all__ = [
    "ServicesDep",
    "SettingsDep",
    "RegistryDep",
    "UsersDep",
    "JobsDep",
    "MaybeUserDep",
    "UserDep",
    "OwnerDep",
    "ReadableModelDep",
    "UserPath",
    "NamePath",
    "VersionPath",
    "CoinPath",
    "COIN_PATTERN",
    "PATH_RULES",
    "path_error",
]

# Documents the scheme in OpenAPI; the header itself is parsed below, because
# ``auto_error=False`` would silently treat "Basic …" as "no token".
_bearer = HTTPBearer(auto_error=False, description="Token from `coincast users add NAME`.")

# Constrained path segments declare their pattern in OpenAPI, so clients (and schemathesis)
# know the rule before sending; a value that breaks it is a 400 with the hint below
# (``coincast.server.app``), worded like ``validate_name``'s own message.
_NAME_RULE = (
    "use 1-64 characters from letters, digits, '.', '_' and '-', starting with a letter or digit"
)
COIN_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
PATH_RULES: dict[str, tuple[str, str]] = {
    "user": ("user name", _NAME_RULE),
    "name": ("model name", _NAME_RULE),
    "version": ("version", "use a number such as 3 (or 'v3'), or 'latest'"),
    "coin": ("coin id", "use CoinGecko's id in lower case, e.g. 'bitcoin'"),
}

UserPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=NAME_PATTERN, description="User name.")
]
NamePath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=NAME_PATTERN, description="Model name.")
]
VersionPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=10,
        pattern=VERSION_PATTERN,
        description="A number (3 or v3) or 'latest'.",
    ),
]
CoinPath = Annotated[
    str,
    Path(min_length=1, max_length=100, pattern=COIN_PATTERN, description="CoinGecko coin id."),
]


def path_error(param: str, value: object) -> str | None:
    """The 400 message for a path segment that breaks its pattern; None if not ours."""
    rule = PATH_RULES.get(param)
    if rule is None:
        return None
    what, hint = rule
    return f"Invalid {what} {value!r}: {hint}."


async def get_services(request: Request) -> Services:
    """Every dependency here is ``async``: FastAPI runs a plain ``def`` dependency in its
    thread pool, and those hops cost more than a cached forecast. The ones that read the
    database do it through ``Services.read`` (inline on SQLite, pooled otherwise)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


async def get_registry(services: ServicesDep) -> ModelRegistry:
    return services.registry


async def get_users(services: ServicesDep) -> UserStore:
    return services.users


async def get_jobs(services: ServicesDep) -> JobManager:
    return services.jobs


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
UsersDep = Annotated[UserStore, Depends(get_users)]
JobsDep = Annotated[JobManager, Depends(get_jobs)]

_NEED_TOKEN = (
    "This server needs a token: send the header 'Authorization: Bearer <token>'. "
    "An administrator creates one with `coincast users add NAME`."
)


async def maybe_user(
    request: Request,
    services: ServicesDep,
    _doc: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """The caller's user name; None when anonymous. A bad token is always 401."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(
                "The Authorization header must be 'Bearer <token>' (a token from "
                "`coincast users add NAME`)."
            )
        user = await services.read(services.users.authenticate, token)
        if user is None:
            raise AuthError(
                "The token is not valid (unknown or revoked). Check that you copied it whole, "
                "or ask for a new one (`coincast users add NAME`)."
            )
        return user
    if await services.read(services.local_mode):
        return LOCAL_USER
    return None


MaybeUserDep = Annotated[str | None, Depends(maybe_user)]


async def require_user(user: MaybeUserDep) -> str:
    if user is None:
        raise AuthError(_NEED_TOKEN)
    return user


UserDep = Annotated[str, Depends(require_user)]


async def owner(user: UserPath, me: UserDep) -> str:
    """The path's user, when the caller is that user (writes, listings, jobs)."""
    validate_name(user, "user name")
    if me != user:
        raise ForbiddenError(
            f"You are signed in as {me!r}; only {user!r} can see or change what is stored "
            f"under {user!r}. Use your own user name in the URL."
        )
    return user


OwnerDep = Annotated[str, Depends(owner)]


async def readable_model(
    user: UserPath, name: NamePath, me: MaybeUserDep, services: ServicesDep
) -> str:
    """The path's user, when the caller may read model ``name`` (owner or public)."""
    validate_name(user, "user name")
    validate_name(name)
    if me == user or await services.read(services.registry.is_public, user, name):
        return user
    if me is None:
        raise AuthError(_NEED_TOKEN)
    raise ForbiddenError(
        f"You are signed in as {me!r}; {user!r}'s model {name!r} is not shared with you. "
        "Ask its owner to make it public, or use your own models."
    )


ReadableModelDep = Annotated[str, Depends(readable_model)]
