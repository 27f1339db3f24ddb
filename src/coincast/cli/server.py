"""``coincast serve``, ``coincast users …`` and ``coincast models …``.

``models list/show/delete`` work on the local store (``COINCAST_DATA_DIR``); ``push`` and
``pull`` copy a version between the local store and a server over HTTP
(``coincast.store.remote``, which speaks the routes TF.js uses).
The server URL and token come from ``--server``/``--token`` or ``COINCAST_REMOTE_URL`` /
``COINCAST_REMOTE_TOKEN``.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from coincast.cli.app import app, err_console
from coincast.cli.common import cli_settings, console, user_errors
from coincast.errors import CoincastError, ParameterError, SourceUnreachableError
from coincast.settings import Settings
from coincast.store.registry import WEIGHTS_PATH, ModelRegistry

__all__ = ["users_app", "models_app"]

users_app = typer.Typer(help="Server users and their tokens.", no_args_is_help=True)
models_app = typer.Typer(
    help="Stored models: list, show, delete, push, pull.", no_args_is_help=True
)
app.add_typer(users_app, name="users")
app.add_typer(models_app, name="models")


UserOpt = Annotated[str, typer.Option("--user", "-u", help="Owner in the store.")]
ServerOpt = Annotated[
    str | None, typer.Option("--server", help="Server URL (default COINCAST_REMOTE_URL).")
]
TokenOpt = Annotated[
    str | None, typer.Option("--token", help="Bearer token (default COINCAST_REMOTE_TOKEN).")
]
VersionOpt = Annotated[str, typer.Option("--version", "-v", help="A number or 'latest'.")]


# --- serve -------------------------------------------------------------------------------


def _bind(host: str, port: int) -> socket.socket:
    """Bind first, so the printed URL has the real port (also for ``--port 0``).

    The protocol is named (not 0) because asyncio sets TCP_NODELAY on accepted sockets
    only when their ``proto`` is IPPROTO_TCP, and they inherit it from this one: without
    it Nagle's algorithm and delayed ACKs held small answers back ~40 ms on loopback.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ParameterError(
            f"Cannot listen on {host}:{port} ({exc.strerror or exc}). Pick another --port, "
            "or stop the program using it."
        ) from None
    return sock


@app.command("serve")
@user_errors
def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to bind; loopback by default.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 8000,
) -> None:
    """Start the web page and REST API (uvicorn); prints the URL."""
    import uvicorn

    from coincast.server.app import create_app
    from coincast.server.services import is_loopback

    settings = cli_settings().model_copy(update={"host": host, "port": port})
    fastapi_app = create_app(settings)
    sock = _bind(host, port)
    real_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    console().print(f"coincast is serving at http://{shown}:{real_port}/  (API docs: /docs)")
    if fastapi_app.state.services.local_mode():
        console().print(
            "Local single-user mode: no users exist, requests without a token act as 'local'."
        )
    elif not is_loopback(host):
        console().print("Every request needs a token (`coincast users add NAME`).")
    threading.Thread(
        target=_warm_coin_list, args=(settings, fastapi_app.state), daemon=True
    ).start()
    config = uvicorn.Config(
        fastapi_app, log_level="info", access_log=False, timeout_keep_alive=settings.keep_alive_s
    )
    uvicorn.Server(config).run(sockets=[sock])


def _warm_coin_list(settings: Settings, state: Any) -> None:
    """Fetch the top-100 list once at start-up, so an offline machine is told at once.

    Without it, the first sign of a missing network would be an error in the page minutes
    later. One attempt, no retries: this is a probe, the page retries on demand. When it
    fails the app's state says so, and the page's coin list answers from the store at once.
    """
    from coincast.data.coingecko.client import CoinGeckoClient
    from coincast.data.market.cache import MarketCache
    from coincast.server.routes.coins import mark_unreachable

    try:
        cache = MarketCache(settings)
        if cache.coins(1):
            return
        probe = settings.model_copy(update={"max_retries": 0, "http_timeout": 10.0})
        with CoinGeckoClient(probe) as client:
            coins = client.top_coins(100)
        cache.upsert_coins(coins)
        console().print(f"CoinGecko reachable: the top {len(coins)} coins by volume are listed.")
    except CoincastError as exc:
        if isinstance(exc, SourceUnreachableError):
            mark_unreachable(state)
        err_console.print(f"[yellow]CoinGecko check:[/] {exc}")


ModelArg = Annotated[str, typer.Argument(help="Model name.")]
RemoteUserOpt = Annotated[str | None, typer.Option(help="Owner on the server (default --user).")]


# --- users -------------------------------------------------------------------------------


@users_app.command("add")
@user_errors
def users_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ -).")],
) -> None:
    """Create a user and print their token (shown once; only its hash is stored)."""
    from coincast.server.users import UserStore

    _user, token = UserStore(cli_settings()).add(name)
    err_console.print(f"Created user {name!r}. Their token (shown only now):")
    typer.echo(token)


@users_app.command("list")
@user_errors
def users_list() -> None:
    """List users (never tokens: they are not stored)."""
    from coincast.server.users import UserStore

    users = UserStore(cli_settings()).list()
    if not users:
        console().print("No users: a loopback server runs in local single-user mode.")
        return
    table = Table("user", "created")
    for user in users:
        table.add_row(user.name, user.created_at.strftime("%Y-%m-%d %H:%M UTC"))
    console().print(table)


@users_app.command("remove")
@user_errors
def users_remove(
    name: Annotated[str, typer.Argument(help="User to delete.")],
) -> None:
    """Delete a user; their token stops working at once (their models stay)."""
    from coincast.server.users import UserStore

    if not UserStore(cli_settings()).remove(name):
        raise ParameterError(f"No user {name!r}. `coincast users list` shows them.")
    console().print(f"Removed user {name!r}.")


# --- models (local store) ------------------------------------------------------------------


def _summary(metrics: dict[str, Any]) -> str:
    from coincast.server.views import metrics_summary

    s = metrics_summary(metrics)
    rmse, naive = s.get("rmse"), s.get("naive_rmse")
    if isinstance(rmse, (int, float)) and isinstance(naive, (int, float)):
        return f"1-day RMSE {rmse:,.2f} vs naive {naive:,.2f}"
    return "-"


@models_app.command("list")
@user_errors
def models_list(user: UserOpt = "local") -> None:
    """The user's models in the local store."""
    models = ModelRegistry(cli_settings()).list_models(user)
    if not models:
        console().print(f"No models for {user!r}. Train one: `coincast train COIN --save NAME`.")
        return
    table = Table("name", "versions", "latest", "public", "updated")
    for m in models:
        table.add_row(
            m.name,
            str(m.n_versions),
            f"v{m.latest_version}",
            "yes" if m.public else "no",
            m.updated_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
    console().print(table)


@models_app.command("show")
@user_errors
def models_show(name: ModelArg, user: UserOpt = "local") -> None:
    """A model's versions with parents and metrics."""
    versions = ModelRegistry(cli_settings()).list_versions(user, name)
    table = Table("version", "parent", "created", "size", "metrics", title=f"{user}/{name}")
    for v in versions:
        table.add_row(
            f"v{v.version}",
            f"v{v.parent_version}" if v.parent_version else "-",
            v.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            f"{(v.json_size + v.weights_size) / 1024:,.1f} KiB",
            _summary(v.metrics),
        )
    console().print(table)


@models_app.command("delete")
@user_errors
def models_delete(
    name: ModelArg,
    version: Annotated[str, typer.Argument(help="Version number (or 'latest').")],
    user: UserOpt = "local",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete one version (explicit; numbers are never reused)."""
    registry = ModelRegistry(cli_settings())
    info = registry.info(user, name, version)
    if not yes and not typer.confirm(f"Delete {user}/{name} v{info.version}?"):
        raise typer.Exit(1)
    registry.delete_version(user, name, info.version)
    console().print(f"Deleted {user}/{name} v{info.version}.")


# --- push / pull ---------------------------------------------------------------------------


@models_app.command("push")
@user_errors
def models_push(
    name: ModelArg,
    version: VersionOpt = "latest",
    user: UserOpt = "local",
    remote_user: RemoteUserOpt = None,
    from_dir: Annotated[
        Path | None, typer.Option(help="Push model.json + model.weights.bin from a folder instead.")
    ] = None,
    parent: Annotated[
        int | None, typer.Option(help="Record this server version as parent.")
    ] = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Upload a version (from the local store or a folder) to a server as its next version."""
    from coincast.store.remote import RemoteModels

    settings = cli_settings()
    with RemoteModels.from_settings(settings, server, token) as remote:  # no --server: said first
        if from_dir is not None:
            model_json = (from_dir / "model.json").read_bytes()
            weights = (from_dir / WEIGHTS_PATH).read_bytes()
        else:
            stored = ModelRegistry(settings).get(user, name, version)
            model_json, weights = stored.model_json, stored.weights
        body = remote.push(remote_user or user, name, model_json, weights, parent=parent)
    console().print(f"Pushed as {body['user']}/{body['name']} v{body['version']} on {remote.api}.")


@models_app.command("pull")
@user_errors
def models_pull(
    name: ModelArg,
    version: VersionOpt = "latest",
    user: UserOpt = "local",
    remote_user: RemoteUserOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Also write model.json + model.weights.bin to this folder.")
    ] = None,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Download a version from a server into the local store (validated like any save)."""
    from coincast.store.remote import RemoteModels

    settings = cli_settings()
    with RemoteModels.from_settings(settings, server, token) as remote:
        model_json, weights = remote.pull(remote_user or user, name, version)
    info = ModelRegistry(settings).save(user, name, model_json, weights)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "model.json").write_bytes(model_json)
        (out / WEIGHTS_PATH).write_bytes(weights)
    meta = json.loads(model_json).get("userDefinedMetadata") or {}
    coin = meta.get("coin", "?") if isinstance(meta, dict) else "?"
    console().print(
        f"Pulled {name} ({coin}) into the local store as {user}/{name} v{info.version}."
    )
