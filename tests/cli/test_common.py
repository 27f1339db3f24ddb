"""``cli_settings``: one ``Settings`` per invocation, read afresh for the next one."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from coincast.cli.common import cli_settings
from coincast.settings import Settings


def test_one_settings_per_invocation_and_new_ones_for_the_next(tmp_path: Path) -> None:
    seen: list[tuple[Settings, Settings]] = []

    @click.group()
    def group() -> None:
        pass

    @group.command()
    def cmd() -> None:
        seen.append((cli_settings(), cli_settings()))

    runner = CliRunner()
    for name in ("a", "b"):
        result = runner.invoke(group, ["cmd"], env={"COINCAST_DATA_DIR": str(tmp_path / name)})
        assert result.exit_code == 0, result.output
    (a1, a2), (b1, b2) = seen
    assert a1 is a2 and b1 is b2
    assert (a1.data_dir, b1.data_dir) == (tmp_path / "a", tmp_path / "b")
