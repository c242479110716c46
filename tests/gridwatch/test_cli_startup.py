"""The CLI starts fast: heavy libraries are imported only by the commands that need them."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "ultralytics", "cv2", "av", "zmq", "fastapi")

PROBE = """
import sys
from click.testing import CliRunner
from gridwatch.cli import cli
result = CliRunner().invoke(cli, {args!r})
assert result.exit_code == 0, result.output
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.parametrize(
    "args",
    [["--help"], ["config", "check"], ["grid", "locate", "121.23", "31.01"], ["cameras", "--help"]],
)
def test_commands_do_not_import_heavy_libraries(args: list[str], repo) -> None:  # type: ignore[no-untyped-def]
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "", f"{args} imported {out.stdout.strip()}"
