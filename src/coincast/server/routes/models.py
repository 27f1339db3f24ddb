"""The model store over HTTP, spoken the way TF.js's ``tf.io.http`` and
``tf.loadLayersModel`` speak it.

Upload: multipart with ``model.json`` and ``model.weights.bin`` (or the ``model_json`` /
``model_weights_bin`` spellings some proxies produce), by POST or PUT. Download: the
weights sit beside model.json, because TF.js resolves the manifest path relative to the
model.json URL. Both files carry an ETag of their own content, so a client can revalidate
with ``If-None-Match`` and versions never change under a cached copy.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from coincast.errors import ModelNotFoundError
from coincast.server.deps import (
    NamePath,
    OwnerDep,
    ReadableModelDep,
    RegistryDep,
    SettingsDep,
    VersionPath,
)
from coincast.server.errors import InvalidRequestError, PayloadTooLargeError
from coincast.server.routes import ERRORS
from coincast.server.schemas import ModelOut, ModelsOut, PublicIn, VersionOut, VersionsOut
from coincast.server.views import model_out, version_out
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry, validate_name

router = APIRouter(tags=["models"], responses=ERRORS)

_JSON_FIELDS = ("model.json", "model_json")
_WEIGHT_FIELDS = ("model.weights.bin", "model_weights_bin")
_CACHE = "private, no-cache"

_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "model.json": {"type": "string", "format": "binary"},
                        "model.weights.bin": {"type": "string", "format": "binary"},
                        "model_json": {"type": "string", "format": "binary"},
                        "model_weights_bin": {"type": "string", "format": "binary"},
                    },
                }
            }
        },
    }
}


async def _field(form: Any, names: tuple[str, ...], limit: int, what: str) -> bytes | None:
    for key in names:
        value = form.get(key)
        if value is None:
            continue
        if isinstance(value, UploadFile):
            if value.size is not None and value.size > limit:
                raise _too_large(what, value.size, limit)
            data = await value.read(limit + 1)
        else:
            data = value.encode("utf-8")
        if len(data) > limit:
            raise _too_large(what, len(data), limit)
        return data
    return None


def _too_large(what: str, size: int, limit: int) -> PayloadTooLargeError:
    env = "MODEL_JSON" if what == "model.json" else "WEIGHTS"
    return PayloadTooLargeError(
        f"{what} is {size} bytes; the limit is {limit} (COINCAST_MAX_{env}_BYTES on the server)."
    )


async def read_upload(request: Request, settings: Settings) -> tuple[bytes, bytes]:
    """(model.json bytes, weights bytes) from a TF.js multipart upload."""
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise InvalidRequestError(
            "Send multipart/form-data with the fields 'model.json' and 'model.weights.bin', "
            "as TF.js model.save(tf.io.http(url)) does."
        )
    async with request.form(
        max_files=4, max_fields=4, max_part_size=settings.max_model_json_bytes
    ) as form:
        model_json = await _field(form, _JSON_FIELDS, settings.max_model_json_bytes, "model.json")
        weights = await _field(form, _WEIGHT_FIELDS, settings.max_weights_bytes, "weights")
    if model_json is None:
        raise InvalidRequestError(
            "The upload has no 'model.json' field. Send model.json (application/json) and "
            "model.weights.bin (application/octet-stream) as multipart form fields."
        )
    return model_json, weights or b""


_PARENT = Query(ge=1, le=10**9, description="Version this was trained from.")


async def upload(
    request: Request,
    user: OwnerDep,
    name: NamePath,
    registry: RegistryDep,
    settings: SettingsDep,
    parent: Annotated[int | None, _PARENT] = None,
) -> VersionOut:
    validate_name(name)
    model_json, weights = await read_upload(request, settings)
    if parent is not None:
        await run_in_threadpool(registry.info, user, name, parent)
    info = await run_in_threadpool(registry.save, user, name, model_json, weights, parent)
    return version_out(registry, info)


# One handler, two OpenAPI operations: TF.js's tf.io.http sends POST by default, and PUT is
# what a "store this file here" client expects; both make the next version.
for _method, _summary_text in (
    ("POST", "Upload a TF.js model (multipart) as the next version"),
    ("PUT", "Upload a TF.js model (PUT, same as POST)"),
):
    router.add_api_route(
        "/users/{user}/models/{name}",
        upload,
        methods=[_method],
        name=f"upload_{_method.lower()}",
        response_model=VersionOut,
        status_code=201,
        openapi_extra=_UPLOAD_DOC,
        summary=_summary_text,
    )


@router.get("/users/{user}/models", response_model=ModelsOut)
def list_models(user: OwnerDep, registry: RegistryDep) -> ModelsOut:
    return ModelsOut(models=[model_out(s) for s in registry.list_models(user)])


def _summary(registry: ModelRegistry, user: str, name: str) -> Any:
    for summary in registry.list_models(user):
        if summary.name == name:
            return summary
    raise ModelNotFoundError(
        f"User '{user}' has no model named '{name}'. List the models to see the names."
    )


@router.get("/users/{user}/models/{name}", response_model=ModelOut)
def get_model(user: ReadableModelDep, name: NamePath, registry: RegistryDep) -> ModelOut:
    summary = _summary(registry, user, name)
    versions = [version_out(registry, i) for i in registry.list_versions(user, name)]
    return model_out(summary, versions)


@router.put("/users/{user}/models/{name}/public", response_model=ModelOut)
def set_public(user: OwnerDep, name: NamePath, body: PublicIn, registry: RegistryDep) -> ModelOut:
    validate_name(name)
    registry.set_public(user, name, body.public)
    return model_out(_summary(registry, user, name))


@router.get("/users/{user}/models/{name}/versions", response_model=VersionsOut)
def list_versions(user: ReadableModelDep, name: NamePath, registry: RegistryDep) -> VersionsOut:
    return VersionsOut(
        versions=[version_out(registry, i) for i in registry.list_versions(user, name)]
    )


@router.get("/users/{user}/models/{name}/versions/{version}", response_model=VersionOut)
def get_version(
    user: ReadableModelDep, name: NamePath, version: VersionPath, registry: RegistryDep
) -> VersionOut:
    return version_out(registry, registry.info(user, name, version))


@router.delete("/users/{user}/models/{name}/versions/{version}", response_model=VersionOut)
def delete_version(
    user: OwnerDep, name: NamePath, version: VersionPath, registry: RegistryDep
) -> VersionOut:
    validate_name(name)
    info = registry.info(user, name, version)
    out = version_out(registry, info)
    registry.delete_version(user, name, info.version)
    return out


def _file(request: Request, data_etag: str, read: Any, media_type: str) -> Response:
    etag = f'"{data_etag}"'
    headers = {"ETag": etag, "Cache-Control": _CACHE}
    match = request.headers.get("if-none-match", "")
    if etag in {t.strip() for t in match.split(",")} or match.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(content=read(), media_type=media_type, headers=headers)


@router.get(
    "/users/{user}/models/{name}/versions/{version}/model.json",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}, 304: {"description": "Unchanged"}},
    summary="The TF.js model.json (for tf.loadLayersModel)",
)
def get_model_json(
    request: Request,
    user: ReadableModelDep,
    name: NamePath,
    version: VersionPath,
    registry: RegistryDep,
) -> Response:
    info = registry.info(user, name, version)
    return _file(
        request, info.json_sha256, lambda: registry.blobs.get(info.json_key), "application/json"
    )


@router.get(
    "/users/{user}/models/{name}/versions/{version}/model.weights.bin",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        304: {"description": "Unchanged"},
    },
    summary="The weights file named by model.json's manifest",
)
def get_weights(
    request: Request,
    user: ReadableModelDep,
    name: NamePath,
    version: VersionPath,
    registry: RegistryDep,
) -> Response:
    info = registry.info(user, name, version)
    return _file(
        request,
        info.weights_sha256,
        lambda: registry.blobs.get(info.weights_key),
        "application/octet-stream",
    )
