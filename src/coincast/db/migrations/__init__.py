"""Alembic's script directory (env.py, versions/): read by ``coincast.db.migrate``."""
