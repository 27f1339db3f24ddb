"""The architecture, checked: which package may import which, and what no module may do.

The package dependency rule. An arrow reads "may import"; every module may also import the
foundation: ``errors`` (the CoincastError tree), ``settings`` (the only reader of the
environment), ``json_values`` (finite floats for JSON) and ``version``. Data flows down
the list, so imports point up it:

    errors      → (nothing)
    json_values → (nothing)
    version     → (nothing)
    settings    → errors
    db          → (the foundation only)
    data        → db
    prep        → data
    model       → prep
    store       → db, model
    forecast    → model, prep, store   (a Forecaster exports itself in the store's TF.js format)
    scale       → forecast, model, prep, store
    api         → data, forecast, model, prep, store
    ledger      → db, data, forecast, model, prep, store, api   (forecasts kept and scored)
    coincast    → api                  (the package's __init__: the public API)
    server      → any of the above     (never cli)
    cli         → any of the above, server

Everything above ``server`` is the core: it imports no web or terminal framework (fastapi,
starlette, uvicorn, sse_starlette, typer, rich), so the library installs and runs without
them. Besides the table: no import cycle (Python or web/*.js), no ``_private`` name taken
from another module, no module over 400 lines, and no Ray at import time in ``scale``
(Ray is optional and slow to import; only running on it needs it).
"""

from __future__ import annotations

import subprocess
import sys

from tests.import_graph import (
    cycles,
    imports_of,
    js_graph,
    package_graph,
    package_of,
    private_imports,
    python_graph,
    python_modules,
    third_party_imports,
)

FRAMEWORKS = ("fastapi", "starlette", "uvicorn", "sse_starlette", "typer", "rich")
OUTER = ("coincast.server", "coincast.cli")
MAX_LINES = 400

FOUNDATION = frozenset({"errors", "json_values", "settings", "version"})
_CORE_RULES: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "json_values": frozenset(),
    "version": frozenset(),
    "settings": frozenset({"errors"}),
    "db": FOUNDATION,
    "data": FOUNDATION | {"db"},
    "prep": FOUNDATION | {"data"},
    "model": FOUNDATION | {"prep"},
    "store": FOUNDATION | {"db", "model"},
    "forecast": FOUNDATION | {"model", "prep", "store"},
    "scale": FOUNDATION | {"forecast", "model", "prep", "store"},
    "api": FOUNDATION | {"data", "forecast", "model", "prep", "store"},
    "ledger": FOUNDATION | {"db", "data", "forecast", "model", "prep", "store", "api"},
    "coincast": FOUNDATION | {"api"},
}
CORE = frozenset(_CORE_RULES)
MAY_IMPORT: dict[str, frozenset[str]] = {
    **_CORE_RULES,
    "server": CORE,
    "cli": CORE | {"server"},
}


def _in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_core_imports_no_server_cli_or_their_frameworks_in_the_source() -> None:
    bad = []
    for name, path in python_modules().items():
        if _in(name, OUTER):
            continue
        bad += [f"{name}:{line} imports {top}" for top, line in third_party_imports(path)
                if top in FRAMEWORKS]  # fmt: skip
        bad += [f"{name}:{line} imports {target}"
                for target, _, line in imports_of(name, path, type_checking=True)
                if _in(target, OUTER)]  # fmt: skip
    assert bad == [], "the core must not import the server, the CLI or their frameworks:\n" + (
        "\n".join(bad)
    )


def test_importing_the_api_loads_no_server_cli_or_their_frameworks() -> None:
    code = (
        "import importlib, sys\n"
        "for m in ('coincast', 'coincast.api'):\n"
        "    importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if any(m == p or m.startswith(p + '.')\n"
        f"                                     for p in {FRAMEWORKS + OUTER!r})]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, f"importing coincast.api failed:\n{out.stderr[-3000:]}"
    assert out.stdout.strip() == "", f"importing coincast.api loaded: {out.stdout.strip()}"


def test_no_import_cycle_among_python_modules() -> None:
    found = cycles(python_graph())
    assert found == [], "import cycles (each group imports itself through the others):\n" + (
        "\n".join(" ↔ ".join(c) for c in found)
    )


def test_no_import_cycle_among_web_modules() -> None:
    found = cycles(js_graph())
    assert found == [], "import cycles in web/*.js:\n" + "\n".join(" ↔ ".join(c) for c in found)


def test_no_private_name_is_imported_from_another_module() -> None:
    found = private_imports()
    assert found == [], "a _name is private to its module; make it public or move it:\n" + (
        "\n".join(found)
    )


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {m: len(p.read_text().splitlines()) for m, p in python_modules().items()}
    big = [f"{m}: {n} lines" for m, n in sorted(sizes.items()) if n > MAX_LINES]
    assert big == [], f"modules over {MAX_LINES} lines (split them by concept):\n" + (
        "\n".join(big)
    )


def test_every_package_has_a_place_in_the_table() -> None:
    packages = {package_of(m) for m in python_modules()}
    assert packages - set(MAY_IMPORT) == set(), "add these packages to the table in this file"


def test_packages_import_only_what_the_table_allows() -> None:
    bad = [
        f"{a} → {b} is not in the table: " + ", ".join(why)
        for (a, b), why in sorted(package_graph(python_graph()).items())
        if b not in MAY_IMPORT.get(a, frozenset())
    ]
    assert bad == [], "imports against the dependency direction:\n" + "\n".join(bad)


def test_scale_modules_do_not_import_ray_when_imported() -> None:
    """One interpreter imports them in turn (each start pays for torch) and names the
    first import after which Ray is loaded."""
    modules = sorted(m for m in python_modules() if _in(m, ("coincast.scale",)))
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "    if 'ray' in sys.modules:\n"
        "        print(m)\n"
        "        break\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, f"importing coincast.scale failed:\n{out.stderr[-3000:]}"
    assert out.stdout.strip() == "", f"importing {out.stdout.strip()} imported ray"


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
