"""``coincast data …``: fetch, refresh, import, show and clean market data.

Each command is a few lines over ``coincast.data``: settings from ``COINCAST_*``, the
library call, then a rich table. Errors from the library become one red line on stderr
and exit code 1 (``_user_errors``), also under typer's ``CliRunner``, not only ``main()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from coincast.cli.app import app
from coincast.cli.common import cli_settings, console, user_errors
from coincast.cli.ledger import score_after_write
from coincast.data.clean import CleaningReport, clean
from coincast.data.coingecko.client import CoinGeckoClient
from coincast.data.csv_import import read_history_csv
from coincast.data.market.cache import MarketCache
from coincast.data.market.refresh import RefreshResult, refresh_coin, refresh_top, summary_line
from coincast.errors import NoDataError

__all__ = ["data_app"]

data_app = typer.Typer(
    help="Market data: fetch from CoinGecko, import CSV, clean.", no_args_is_help=True
)
app.add_typer(data_app, name="data")


CoinArg = Annotated[str, typer.Argument(help="CoinGecko coin id, e.g. bitcoin or usd-coin.")]


def _money(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.6g}"


def _notices(client: CoinGeckoClient) -> None:
    for notice in client.notices:
        console(stderr=True).print(f"[yellow]note:[/] {escape(notice)}")


@data_app.command("top")
@user_errors
def top_cmd(
    n: Annotated[int, typer.Option("--top", "-n", help="How many coins, by 24 h volume.")] = 100,
    exclude_stable: Annotated[
        bool, typer.Option("--exclude-stable", help="Hide coins that hold a 1 USD peg.")
    ] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Show the stored list; do not call CoinGecko.")
    ] = False,
) -> None:
    """List the top coins by trading volume (and store the list)."""
    from coincast.data.coingecko.client import MarketCoin
    from coincast.data.coingecko.stablecoins import is_stablecoin

    settings = cli_settings()
    cache = MarketCache(settings)
    if not offline:
        with CoinGeckoClient(settings) as client:
            cache.upsert_coins(client.top_coins(n))
    rows = [c for c in cache.coins(limit=n) if c.volume_rank is not None]
    if not rows:
        raise NoDataError("No coin list stored yet. Run `coincast data top` online.")
    stored = {s.coin_id: s for s in cache.summaries()}
    table = Table(title=f"Top {len(rows)} coins by 24 h volume (data: CoinGecko)")
    for name in ("#", "id", "symbol", "name", "price USD", "24h volume", "24h %", "stored"):
        table.add_column(name, justify="right" if name in ("#", "price USD") else "left")
    for row in rows:
        market = MarketCoin(**{k: getattr(row, k) for k in MarketCoin.model_fields})
        stable = is_stablecoin(row.id, market=market)
        if exclude_stable and stable:
            continue
        summary = stored.get(row.id)
        change = row.price_change_percentage_24h
        table.add_row(
            str(row.volume_rank),
            row.id + (" (stable)" if stable else ""),
            row.symbol,
            row.name,
            _money(row.current_price),
            _money(row.total_volume),
            "-" if change is None else f"{change:+.2f}",
            f"{summary.rows} d to {summary.last}" if summary else "-",
        )
    console().print(table)


@data_app.command("fetch")
@user_errors
def fetch_cmd(
    coin: CoinArg,
    days: Annotated[
        int | None,
        typer.Option(help="Fetch the last N days; default: only the days not stored yet."),
    ] = None,
) -> None:
    """Fetch one coin's daily history from CoinGecko into the store."""
    settings = cli_settings()
    cache = MarketCache(settings)
    with CoinGeckoClient(settings) as client:
        result = refresh_coin(client, cache, coin, days=days)
        _notices(client)
    score_after_write(coin)
    if result.status == "up_to_date":
        console().print(
            f"{coin}: already up to date (last day {result.last_date}); no request made."
        )
    else:
        console().print(
            f"{coin}: {result.fetched_rows} day(s) fetched, {result.new_rows} new; "
            f"stored up to {result.last_date}."
        )


_STATUS_STYLE = {
    "updated": "green",
    "up_to_date": "dim",
    "failed": "bold red",
    "skipped_stable": "yellow",
    "skipped_missing": "yellow",
}


def _summary_table(results: list[RefreshResult]) -> Table:
    table = Table(title="Refresh summary")
    for name in ("#", "coin", "status", "new days", "last day", "problem"):
        table.add_column(name, justify="right" if name in ("#", "new days") else "left")
    for i, r in enumerate(results, start=1):
        style = _STATUS_STYLE[r.status]
        table.add_row(
            str(i),
            r.coin_id,
            f"[{style}]{r.status}[/]",
            str(r.new_rows),
            str(r.last_date or "-"),
            escape(r.error or r.note or ""),
        )
    return table


@data_app.command("refresh")
@user_errors
def refresh_cmd(
    top: Annotated[
        int, typer.Option("--top", "-n", help="Refresh the top N coins by volume.")
    ] = 100,
    exclude_stable: Annotated[
        bool, typer.Option("--exclude-stable", help="Skip coins that hold a 1 USD peg.")
    ] = False,
) -> None:
    """Bring the top coins up to today, asking only for missing days.

    Exits 1 only if no coin could be refreshed; single failures are listed.
    """
    settings = cli_settings()
    cache = MarketCache(settings)
    out = console()
    columns = (
        TextColumn("[bold]{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with CoinGeckoClient(settings) as client, Progress(*columns, console=out) as progress:
        task = progress.add_task("coin list", total=None)

        def started(coin_id: str, i: int, total: int) -> None:
            progress.update(task, description=coin_id, total=total, completed=i - 1)

        def finished(result: RefreshResult, i: int, total: int) -> None:
            progress.update(task, completed=i)

        results = refresh_top(
            client, cache, top, exclude_stable, on_coin=finished, on_start=started
        )
        progress.update(task, description="done")
    _notices(client)
    score_after_write()
    console().print(_summary_table(results))
    counts = {s: sum(r.status == s for r in results) for s in _STATUS_STYLE}
    console().print(summary_line(results))
    attempted = len(results) - counts["skipped_stable"] - counts["skipped_missing"]
    if attempted and counts["failed"] == attempted:
        console(stderr=True).print("[bold red]error:[/] every coin failed; see the problems above.")
        raise typer.Exit(1)


@data_app.command("import")
@user_errors
def import_cmd(
    file: Annotated[
        Path, typer.Argument(help="CSV: date,price,volume[,market_cap] or a CoinGecko export.")
    ],
    coin: Annotated[str, typer.Option("--coin", help="Store the rows under this coin id.")],
    close: Annotated[
        bool,
        typer.Option(
            "--close",
            help="Rows are end-of-day closes (CoinMarketCap/Yahoo files): date them one day "
            "later, as CoinGecko's next 00:00 snapshot, so fetched days line up.",
        ),
    ] = False,
) -> None:
    """Import a daily-history CSV file (all rows or nothing)."""
    frame = read_history_csv(file, convention="close" if close else "snapshot")
    cache = MarketCache(cli_settings())
    new_rows = cache.upsert_history(coin, frame, source="csv")
    cache.log_fetch(coin, "csv", ok=True, rows=len(frame), message=str(file))
    scored = score_after_write(coin)
    console().print(
        f"{coin}: imported {len(frame)} day(s) from {file} ({new_rows} new), "
        f"{frame.index[0].date()} … {frame.index[-1].date()}. "
        f"Check it with `coincast data clean {coin} --report`."
        + (f" {scored} recorded forecast day(s) scored." if scored else "")
    )


@data_app.command("show")
@user_errors
def show_cmd(
    coin: Annotated[
        str | None, typer.Argument(help="Coin id; omit to list every stored coin.")
    ] = None,
    days: Annotated[int, typer.Option(help="How many of the latest days to print.")] = 10,
) -> None:
    """Show what is stored: every coin, or one coin's latest days."""
    cache = MarketCache(cli_settings())
    if coin is None:
        table = Table(title="Stored coins")
        for name in ("coin", "days", "first", "last", "sources"):
            table.add_column(name)
        for s in cache.summaries():
            table.add_row(s.coin_id, str(s.rows), str(s.first), str(s.last), ",".join(s.sources))
        console().print(table)
        return
    history = cache.history(coin)
    summary = next(s for s in cache.summaries() if s.coin_id == coin)
    console().print(
        f"{coin}: {summary.rows} day(s), {summary.first} … {summary.last} "
        f"(sources: {', '.join(summary.sources)})"
    )
    log = cache.fetch_log(coin, limit=1)
    if log:
        entry = log[0]
        state = "ok" if entry.ok else f"failed: {entry.message}"
        console().print(
            f"last fetch: {entry.finished_at:%Y-%m-%d %H:%M} UTC ({entry.kind}, {escape(state)})"
        )
    table = Table(title=f"{coin}: latest {min(days, len(history))} days")
    for name in ("date", "price USD", "volume USD", "market cap USD"):
        table.add_column(name, justify="left" if name == "date" else "right")
    tail = history.tail(days)
    for ts, price, volume, cap in zip(
        tail.index, tail["price"], tail["volume"], tail["market_cap"], strict=True
    ):
        table.add_row(
            f"{ts:%Y-%m-%d}",
            _money(float(price)),
            _money(float(volume)),
            "-" if cap != cap else _money(float(cap)),
        )
    console().print(table)


@data_app.command("clean")
@user_errors
def clean_cmd(
    coin: CoinArg,
    report: Annotated[bool, typer.Option("--report", help="List every change made.")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the cleaned series to this CSV.")
    ] = None,
) -> None:
    """Clean a stored history (gaps, zero-volume start, volume spikes) and report it.

    The store keeps the raw data; cleaning is applied whenever a model reads it.
    """
    settings = cli_settings()
    cleaned, result = clean(MarketCache(settings).history(coin), settings)
    console().print(f"{coin}: {result.summary()}")
    if report:
        console().print(_report_table(result))
    if output is not None:
        cleaned.to_csv(output, date_format="%Y-%m-%d", float_format="%.17g")
        console().print(f"cleaned series written to {output}")


def _report_table(result: CleaningReport) -> Table:
    table = Table(title="Cleaning report")
    for name in CleaningReport.HEADER:
        table.add_column(name, justify="right" if name in ("before", "after") else "left")
    for row in result.rows():
        table.add_row(*(escape(cell) for cell in row))
    if not result.changes:
        table.add_row("-", "-", "-", "-", "-", "nothing to change")
    return table
