"""The core library must not import the server, the CLI or their frameworks."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("fastapi", "starlette", "uvicorn", "typer", "rich", "coincast.server", "coincast.cli")


def test_core_imports_no_server_or_cli() -> None:
    code = (
        "import sys, importlib\n"
        "for m in ('coincast', 'coincast.errors', 'coincast.settings', 'coincast.model.lstm'):\n"
        "    importlib.import_module(m)\n"
        "try:\n    importlib.import_module('coincast.api')\nexcept ModuleNotFoundError:\n    pass\n"
        f"bad = [m for m in sys.modules\n"
        f"       if m.split('.')[0] in {FORBIDDEN!r} or m in {FORBIDDEN!r}]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported: {out.stdout.strip()}"


def test_every_error_has_a_status() -> None:
    import coincast.errors as errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.CoincastError)
        assert 400 <= cls.status_code < 600
