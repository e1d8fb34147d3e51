"""Type-checking snippets of user code with ``mypy --strict``, for the tests that show the
public API's types accept what they should and catch what they should not."""

from __future__ import annotations

from pathlib import Path

__all__ = ["mypy_strict"]


def mypy_strict(tmp_path: Path, use: str, wrong: str) -> tuple[str, list[str]]:
    """Check ``use`` (as ``use.py``) and ``wrong`` (as ``wrong.py``) together; return
    mypy's output and its error lines."""
    from mypy import api as mypy_api

    (tmp_path / "use.py").write_text(use)
    (tmp_path / "wrong.py").write_text(wrong)
    out, _, _ = mypy_api.run([
        "--strict", "--no-error-summary", "--hide-error-context", "--cache-dir",
        str(tmp_path / "cache"), str(tmp_path / "use.py"), str(tmp_path / "wrong.py")])
    return out, [line for line in out.splitlines() if ": error: " in line]
