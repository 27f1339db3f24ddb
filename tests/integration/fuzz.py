"""Run schemathesis (its own CLI, in a subprocess) against a live coincast server.

Shared by the CI-sized test and the full benchmark run. Two checks: no 5xx (every
error a client can cause must map to a 4xx that says what was wrong), and every response
conforms to our OpenAPI schema (status code documented, content type, headers, body
schema), since clients are written against that schema. The HAR report gives the exact number
of HTTP requests sent and their status codes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CHECKS", "FuzzResult", "run_schemathesis"]

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)


@dataclass
class FuzzResult:
    returncode: int
    requests: int
    statuses: Counter[int]
    failures: dict[str, int]  # e.g. {"ST101 Server error": 2}
    output: str

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


# Generated requests should reach the logic behind the ownership check, so the path's
# user is the token's own (other users' tokens are the hand-written security tests' job),
# and names/versions lean towards a model that exists; everything else is generated.
CONFIG = """
[dictionaries.models]
values = ["btc"]
[dictionaries.versions]
values = ["1", "latest"]
[parameters]
"path.user" = "alice"
"path.name" = { dictionary = "models", probability = 0.6 }
"path.version" = { dictionary = "versions", probability = 0.6 }
"""


def run_schemathesis(
    base_url: str,
    token: str,
    workdir: Path,
    *,
    max_examples: int,
    # One worker: with two, schemathesis's threads call ast.parse (through hypothesis)
    # at once, and CPython 3.11 then fails now and then with "SystemError: AST constructor
    # recursion depth mismatch" inside schemathesis (seen once in CI) — not a server fault.
    workers: int = 1,
    seed: int = 1,
    timeout: float = 1800,
    exclude_path_regex: str | None = None,
) -> FuzzResult:
    har = workdir / "schemathesis.har"
    (workdir / "schemathesis.toml").write_text(CONFIG)
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(max_examples),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        str(workers),
        "--seed",
        str(seed),
        "--request-timeout",
        "60",
        "--generation-database",
        "none",
        "--suppress-health-check",
        "all",
        "--no-color",
        "--report",
        "har",
        "--report-har-path",
        str(har),
        "-H",
        f"Authorization: Bearer {token}",
    ]
    if exclude_path_regex is not None:  # e.g. endpoints whose 503 is the right answer
        cmd += ["--exclude-path-regex", exclude_path_regex]
    done = subprocess.run(
        cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, check=False
    )
    entries = json.loads(har.read_text())["log"]["entries"] if har.exists() else []
    statuses = Counter(int(e["response"]["status"]) for e in entries)
    failures = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"(ST\d+ [^:\n]+): (\d+)", done.stdout + done.stderr)
    }
    return FuzzResult(done.returncode, len(entries), statuses, failures, done.stdout)
