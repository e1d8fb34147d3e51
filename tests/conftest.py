"""Session-wide hooks: the options of the conformance suite (tests/conformance).

They live here, not in tests/conformance/conftest.py, because pytest reads command-line
options and runs the early hooks only for the conftest files it loads at startup,
and this one is loaded for every run under tests/ (plain ``pytest`` included).

``--ollama-host URL`` turns a run into a live conformance run: the server is probed once
before collection (an unanswered probe ends the run with one line saying how to start
Ollama), only tests marked ``conformance`` are kept, and the models they need are pulled
when the server lacks them.
"""

from __future__ import annotations

import pytest

from tests.conformance import _target


def pytest_addoption(parser: pytest.Parser) -> None:
    _target.add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    # The first step of the run proper (here pytest reports an exit on one line; from
    # pytest_sessionstart it would print the message twice).
    try:
        url = _target.live_url(session.config)
    except Exception as exc:  # e.g. a port that is not a number
        pytest.exit(f"conformance: unusable --ollama-host: {exc}",
                    returncode=pytest.ExitCode.USAGE_ERROR)
    if url is not None and not _target.probe(url):
        pytest.exit(_target.unreachable_message(url), returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _target.live_url(config) is None:
        return
    # A live run checks the server, nothing else: the rest of the suite (and the
    # tests of the live mode itself) run against the emulator in `make test`.
    keep = [item for item in items if item.get_closest_marker("conformance") is not None]
    dropped = [item for item in items if item.get_closest_marker("conformance") is None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    url = _target.live_url(config)
    if url is None or not session.items or config.option.collectonly:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    def write(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)

    try:
        _target.ensure_models(url, _target.models_for(config, live=True), write)
    except Exception as exc:  # one clear line instead of an error in every test
        pytest.exit(str(exc) if isinstance(exc, RuntimeError) else
                    f"conformance: preparing models on {url} failed: {exc!r}",
                    returncode=pytest.ExitCode.USAGE_ERROR)
