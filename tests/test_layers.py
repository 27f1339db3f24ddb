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
    """Each error class, the library's and the server's own, has a status chosen for it in
    the server's one table; the library's classes carry no HTTP knowledge themselves."""
    import coincast.errors as errors
    import coincast.server.errors as server_errors
    from coincast.server.error_status import STATUS, status_for

    classes = [getattr(errors, n) for n in errors.__all__]
    classes += [getattr(server_errors, n) for n in server_errors.__all__]
    for cls in classes:
        assert issubclass(cls, errors.CoincastError)
        assert cls in STATUS, f"{cls.__name__} has no status in coincast.server.error_status"
        assert 400 <= status_for(cls) < 600
    for name in errors.__all__:
        assert not hasattr(getattr(errors, name), "status_code"), name


def test_a_subclass_takes_its_nearest_listed_status() -> None:
    import coincast.errors as errors
    from coincast.server.error_status import status_for

    class NewNotFound(errors.NoDataError):
        pass

    assert status_for(NewNotFound) == 404
    assert status_for(errors.ParameterError) == 400
    assert issubclass(errors.ParameterError, ValueError)
