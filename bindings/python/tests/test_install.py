"""The suite runs against the installed wheel, not the source tree."""

from __future__ import annotations

import importlib.metadata
import pathlib

import vinesync


def test_imported_from_the_installed_wheel() -> None:
    location = pathlib.Path(vinesync.__file__).resolve()
    assert "site-packages" in location.parts, location
    assert (location.parent / "py.typed").exists()
    assert (location.parent / "_native.pyi").exists()


def test_wheel_is_abi3_and_versioned() -> None:
    dist = importlib.metadata.distribution("vinesync")
    assert dist.version == vinesync.__version__
    wheel = dist.read_text("WHEEL") or ""
    assert "abi3" in wheel, wheel
