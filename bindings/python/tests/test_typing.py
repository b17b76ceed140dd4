"""The type stubs match the native module (stubtest); the examples and the
usual ways of using the package (tests/typing/usage.py) type-check with
mypy --strict against the installed package."""

from __future__ import annotations

import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[3]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=REPO / "examples")


def test_examples_pass_mypy_strict() -> None:
    result = run("mypy", "--strict", "--no-incremental", str(REPO / "examples" / "python"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_user_code_with_return_inside_with_and_async_with_passes_mypy_strict() -> None:
    result = run("mypy", "--strict", "--no-incremental", str(pathlib.Path(__file__).parent / "typing" / "usage.py"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_stubs_match_the_native_module() -> None:
    result = run("mypy.stubtest", "vinesync")
    assert result.returncode == 0, result.stdout + result.stderr
