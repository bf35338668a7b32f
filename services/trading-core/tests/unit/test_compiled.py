"""The compiled build is used only when fresh, and the test run uses the one it expects."""

import os
from pathlib import Path

import pytest

from exchange_core import compiled


def test_no_build_directory_means_pure_python_with_the_reason(tmp_path: Path) -> None:
    assert "no build" in compiled.freshness(tmp_path / "absent")


def test_a_build_made_from_other_sources_is_stale(tmp_path: Path) -> None:
    (tmp_path / compiled.STAMP_NAME).write_text("0" * 64 + "\n")
    assert "stale" in compiled.freshness(tmp_path)


def test_a_build_stamped_with_the_current_sources_is_fresh(tmp_path: Path) -> None:
    (tmp_path / compiled.STAMP_NAME).write_text(compiled.source_digest() + "\n")
    assert compiled.freshness(tmp_path) == ""


def test_the_digest_covers_every_compiled_module_source(tmp_path: Path) -> None:
    for name in compiled.MODULES:
        target = tmp_path / f"{name}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((compiled.PACKAGE_DIR / f"{name}.py").read_bytes())
    assert compiled.source_digest(tmp_path) == compiled.source_digest()
    edited = tmp_path / f"{compiled.MODULES[-1]}.py"
    edited.write_bytes(edited.read_bytes() + b"\n# edited\n")
    assert compiled.source_digest(tmp_path) != compiled.source_digest()


def test_activation_is_refused_when_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled, "STATUS", compiled.STATUS)  # restored after the test
    monkeypatch.setenv("EXCHANGE_CORE_NATIVE", "0")
    path: list[str] = []
    assert compiled.activate(path, "domain") == "pure: EXCHANGE_CORE_NATIVE=0"
    assert path == []


def test_this_run_uses_the_build_it_was_asked_for() -> None:
    """scripts/test.sh sets EXCHANGE_CORE_REQUIRE_NATIVE=1: the suite must then run the
    compiled modules (a missing or stale build fails here, not silently pure)."""
    from exchange_core.domain import engine

    status = compiled.STATUS
    compiled_engine = Path(engine.__file__ or "").suffix == ".so"
    if os.environ.get("EXCHANGE_CORE_REQUIRE_NATIVE") == "1":
        assert status.startswith("native"), status
        assert compiled_engine, engine.__file__
    else:
        assert compiled_engine == status.startswith("native"), (status, engine.__file__)
