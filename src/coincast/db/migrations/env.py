"""Alembic environment: always handed an open connection by ``coincast.db.migrate.upgrade``."""

from __future__ import annotations

from alembic import context

from coincast.db.migrate import MANAGED_TABLES

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "coincast migrations run programmatically: call coincast.db.migrate.upgrade(engine)."
    )


def _include_name(name: str | None, type_: str, _parent: object) -> bool:
    return type_ != "table" or name in MANAGED_TABLES


context.configure(
    connection=connection,
    target_metadata=None,
    include_name=_include_name,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
