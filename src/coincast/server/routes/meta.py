"""Health and identity: what the page asks first."""

from __future__ import annotations

from fastapi import APIRouter

from coincast.server.deps import ServicesDep, UserDep
from coincast.server.routes import ERRORS
from coincast.server.schemas import HealthOut, MeOut
from coincast.server.users import LOCAL_USER
from coincast.version import __version__

router = APIRouter(tags=["meta"], responses=ERRORS)


@router.get("/health", response_model=HealthOut)
def health() -> HealthOut:
    return HealthOut(version=__version__)


@router.get("/me", response_model=MeOut)
def me(user: UserDep, services: ServicesDep) -> MeOut:
    local = user == LOCAL_USER and services.local_mode()
    return MeOut(user=user, mode="local" if local else "token")
