"""Mutation testing of the policy plugins and the stream/NDJSON core: ``make mutate``.

Each mutant is one small, realistic bug made by an AST operator: a comparison flipped
(``<`` to ``<=`` and back, ``==`` to ``!=``, ``in`` to ``not in``), ``and``/``or`` swapped,
a ``not`` dropped, an int constant moved by one, ``True``/``False`` swapped, a returned
value replaced by ``None``, a call or augmented assignment removed, ``+``/``-`` and
``*``/``/`` swapped. A mutant is applied to a file in a private copy of the repository,
never to the work tree, and the module's mapped fast tests run against it with ``-x``
and a timeout. A mutant the tests do not fail is a survivor; every survivor must be listed
in ``bench/mutation_survivors.txt`` with the reason it is equivalent or accepted.

``plugins/`` installs as ``ollama_plugins`` through an editable finder that points at the
work tree, so the copy gets an ``ollama_plugins`` link to its own ``plugins/`` and the tests
run with the copy first on ``sys.path``. A probe plugin loaded into every pytest run records
the file each mutated module was imported from; a run that imported the work tree's module
instead of the copy's aborts the whole run. Before any mutant, a sanity step shows that the
unmutated copy passes every mapped subset and that one hand-picked mutant per package is
killed.

Usage::

    python bench/mutate.py                         # every module
    python bench/mutate.py --modules plugins/retry ollama_core/_ndjson.py
    python bench/mutate.py --max-mutants 40 --seed 3   # a sample per module

Exit status: 0 when every survivor is listed, 1 on an unlisted survivor, 2 when the
sanity step fails.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SURVIVORS = ROOT / "bench" / "mutation_survivors.txt"

# The tests that cover each mutated unit: the unit's own test file plus the hardening
# tests aimed at it. ``tests/hardening/test_mutants.py`` holds the tests written to kill
# earlier survivors and runs for every unit.
_COMMON = ["tests/hardening/test_mutants.py"]
UNITS: dict[str, dict[str, list[str]]] = {
    "plugins/retry": {
        "files": ["_backoff.py", "_budget.py", "_policy.py", "_middleware.py"],
        "tests": ["tests/plugins/test_retry.py", "tests/hardening/test_survivors.py"],
    },
    "plugins/circuit_breaker": {
        "files": ["_circuit.py", "_middleware.py", "store.py"],
        "tests": [
            "tests/plugins/test_circuit_breaker.py",
            "tests/plugins/test_stores.py",
            "tests/hardening/test_survivors.py",
        ],
    },
    "plugins/rate_limiting": {
        "files": ["_bucket.py", "_middleware.py", "store.py"],
        "tests": [
            "tests/plugins/test_rate_limiting.py",
            "tests/plugins/test_stores.py",
            "tests/hardening/test_survivors.py",
        ],
    },
    "plugins/failover": {
        "files": ["policy.py", "_endpoints.py"],
        "tests": ["tests/plugins/test_failover.py"],
    },
    "plugins/health_checks": {
        "files": ["policy.py"],
        "tests": ["tests/plugins/test_health_checks.py", "tests/plugins/test_failover.py"],
    },
    "plugins/request_caching": {
        "files": ["_lru.py", "_key.py", "_replay.py", "_middleware.py", "store.py"],
        "tests": [
            "tests/plugins/test_request_caching.py",
            "tests/plugins/test_stores.py",
            "tests/hardening/test_cache_memory.py",
            # The RSS measurement takes seconds and checks nothing a mutant here changes.
            "--deselect",
            "tests/hardening/test_cache_memory.py::test_stored_answers_hold_no_more_memory_than_max_bytes",
        ],
    },
    "ollama_core/_stream.py": {
        "files": [""],
        "tests": [
            "tests/core/test_stream.py",
            "tests/hardening/test_survivors.py",
            "tests/hardening/test_abandoned_streams.py",
            "tests/hardening/test_wire_stream.py",
        ],
    },
    "ollama_core/_ndjson.py": {
        "files": [""],
        "tests": [
            "ollama_core/_ndjson.py",
            "tests/core/test_ndjson.py",
            "tests/hardening/test_survivors.py",
            "tests/hardening/test_hostile_json.py",
        ],
    },
    "ollama_core/_aggregate.py": {
        "files": [""],
        "tests": ["tests/core/test_client.py", "tests/core/test_mock_transport.py"],
    },
}

# One hand-picked mutant per unit for the sanity step: (file, exact text, replacement).
KNOWN_MUTANTS: dict[str, tuple[str, str, str]] = {
    "plugins/retry": ("plugins/retry/_backoff.py", "half + rng.uniform", "half - rng.uniform"),
    "plugins/circuit_breaker": (
        "plugins/circuit_breaker/_circuit.py",
        "error.status_code >= 500",
        "error.status_code > 500",
    ),
    "plugins/rate_limiting": (
        "plugins/rate_limiting/_bucket.py",
        "self._k += 1",
        "self._k += 2",
    ),
    "plugins/failover": (
        "plugins/failover/policy.py",
        "if len(available) == len(ups):",
        "if len(available) != len(ups):",
    ),
    "plugins/health_checks": (
        "plugins/health_checks/policy.py",
        "if not 200 <= response.status < 300:",
        "if 200 <= response.status < 300:",
    ),
    "plugins/request_caching": (
        "plugins/request_caching/_lru.py",
        "if expiry[key] > now:",
        "if expiry[key] >= now:",
    ),
    "ollama_core/_stream.py": (
        "ollama_core/_stream.py",
        "self._set_state(StreamState.COMPLETED)",
        "self._set_state(StreamState.FAILED)",
    ),
    "ollama_core/_ndjson.py": (
        "ollama_core/_ndjson.py",
        "if len(buf) - end - 1 > self._max:",
        "if len(buf) - end - 1 >= self._max:",
    ),
    "ollama_core/_aggregate.py": (
        "ollama_core/_aggregate.py",
        'if path == "/api/chat":',
        'if path != "/api/chat":',
    ),
}

_PROBE = '''\
"""Records where the mutated module was imported from (loaded with -p)."""
import json, os, sys
def pytest_sessionfinish(session, exitstatus):
    name = os.environ["MUTATE_MODULE"]
    mod = sys.modules.get(name)
    plugins = sys.modules.get("ollama_plugins")
    with open(os.environ["MUTATE_PROBE_OUT"], "w") as f:
        json.dump({"module": getattr(mod, "__file__", None),
                   "ollama_plugins": getattr(plugins, "__file__", None)}, f)
'''


def unit_files(unit: str) -> list[str]:
    spec = UNITS[unit]
    if unit.endswith(".py"):
        return [unit]
    return [f"{unit}/{name}" for name in spec["files"]]


def module_name(rel: str) -> str:
    parts = rel[: -len(".py")].split("/")
    if parts[0] == "plugins":
        parts[0] = "ollama_plugins"
    return ".".join(parts)


# ---------------------------------------------------------------------------- mutants


@dataclass
class Mutant:
    file: str
    line: int
    key: str  # stable across line shifts: file, enclosing function, operator, texts
    start: int  # byte offsets of the replaced span in the file
    end: int
    replacement: bytes

    def apply(self, source: bytes) -> bytes:
        return source[: self.start] + self.replacement + source[self.end :]


_CMP_SWAP: dict[type, type] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}
_BIN_SWAP: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
}


class _Collector(ast.NodeVisitor):
    def __init__(self, rel: str, source: bytes) -> None:
        self.rel = rel
        self.lines = source.splitlines(keepends=True)
        self.line_starts = [0]
        for line in self.lines:
            self.line_starts.append(self.line_starts[-1] + len(line))
        self.scope: list[str] = []
        self.found: list[tuple[int, str, int, int, str]] = []  # line, scope, start, end, text

    def offsets(self, node: ast.AST) -> tuple[int, int]:
        start = self.line_starts[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]
        end = self.line_starts[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]
        return start, end

    def add(self, node: ast.AST, replacement: str) -> None:
        start, end = self.offsets(node)
        self.found.append((node.lineno, ".".join(self.scope) or "<module>", start, end, replacement))  # type: ignore[attr-defined]

    # Scopes, and the parts of a module no test can observe.
    def _scoped(self, node: ast.AST, name: str) -> None:
        self.scope.append(name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node, node.name)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        for child in node.body:
            self.visit(child)
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(default)
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return
        self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant):  # docstring
            return
        if isinstance(node.value, (ast.Call, ast.Await)):
            self.add(node, "pass")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.add(node, "pass")
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None
        ):
            self.add(node, "return None")
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for i, op in enumerate(node.ops):
            swap = _CMP_SWAP.get(type(op))
            if swap is not None:
                ops = list(node.ops)
                ops[i] = swap()
                self.add(node, ast.unparse(ast.Compare(node.left, ops, node.comparators)))
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        self.add(node, "(" + ast.unparse(ast.BoolOp(other, node.values)) + ")")
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            self.add(node, "(" + ast.unparse(node.operand) + ")")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        swap = _BIN_SWAP.get(type(node.op))
        if swap is not None:
            self.add(node, "(" + ast.unparse(ast.BinOp(node.left, swap(), node.right)) + ")")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            self.add(node, repr(not value))
        elif isinstance(value, int):
            self.add(node, repr(value + 1))
            if value != 0:
                self.add(node, repr(value - 1))

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return  # message texts: no constant in an f-string is policy


def collect(rel: str) -> list[Mutant]:
    source = (ROOT / rel).read_bytes()
    tree = ast.parse(source)
    col = _Collector(rel, source)
    col.visit(tree)
    mutants: list[Mutant] = []
    seen: dict[str, int] = {}
    for line, scope, start, end, replacement in col.found:
        original = " ".join(source[start:end].decode().split())
        if len(original) > 60:
            original = original[:57] + "..."
        base = f"{rel}::{scope}: {original} -> {' '.join(replacement.split())}"
        seen[base] = seen.get(base, 0) + 1
        key = base if seen[base] == 1 else f"{base} #{seen[base]}"
        mutants.append(Mutant(rel, line, key, start, end, replacement.encode()))
    return mutants


# ---------------------------------------------------------------------------- running


def make_copy() -> Path:
    dest = Path(tempfile.mkdtemp(prefix="ollama-mutate-"))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")
    for name in ["ollama_core", "plugins", "tests", "examples"]:
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ["pyproject.toml", "setup.cfg", "README.md"]:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    # The copy's own plugins, found on sys.path before the editable finder's work tree.
    (dest / "ollama_plugins").symlink_to("plugins", target_is_directory=True)
    (dest / "_mutate_probe.py").write_text(_PROBE)
    return dest


@dataclass
class Outcome:
    status: str  # "killed", "survived", "timeout"
    seconds: float
    loaded_from: str | None


def run_tests(copy: Path, rel: str, tests: list[str], timeout: float, *, write_pyc: bool) -> Outcome:
    probe = copy / ".probe.json"
    probe.unlink(missing_ok=True)
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(copy),
        MUTATE_MODULE=module_name(rel),
        MUTATE_PROBE_OUT=str(probe),
        PYTHONHASHSEED="0",
    )
    if not write_pyc:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           "-p", "_mutate_probe", "--timeout", str(int(timeout) + 5), *tests]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Outcome("timeout", time.monotonic() - start, None)
    seconds = time.monotonic() - start
    loaded = json.loads(probe.read_text()).get("module") if probe.exists() else None
    if loaded is not None and not Path(loaded).resolve().is_relative_to(copy.resolve()):
        sys.exit(f"ABORT: {module_name(rel)} was imported from {loaded}, not from the copy {copy}")
    if proc.returncode == 0:
        return Outcome("survived", seconds, loaded)
    if proc.returncode not in (1, 2, 3):
        # 4: usage error, 5: no tests collected: the run itself is broken.
        sys.exit(f"ABORT: pytest exit {proc.returncode} for {rel}:\n{proc.stdout.decode()[-2000:]}")
    return Outcome("killed", seconds, loaded)


class Mutated:
    """A mutant applied to the copy's file, restored (content and mtime) on exit."""

    def __init__(self, copy: Path, rel: str, source: bytes) -> None:
        self.path = copy / rel
        self.original = source
        self.stat = self.path.stat()

    def __enter__(self) -> Mutated:
        return self

    def write(self, data: bytes) -> None:
        self.path.write_bytes(data)

    def __exit__(self, *exc: object) -> None:
        self.path.write_bytes(self.original)
        os.utime(self.path, ns=(self.stat.st_atime_ns, self.stat.st_mtime_ns))


def load_listed() -> dict[str, str]:
    listed: dict[str, str] = {}
    if not SURVIVORS.exists():
        return listed
    for raw in SURVIVORS.read_text().splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        key, _, reason = raw.partition("  ||  ")
        listed[key.strip()] = reason.strip()
    return listed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", nargs="*", default=list(UNITS), help="units to mutate")
    parser.add_argument("--max-mutants", type=int, default=0, help="sample size per unit (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--match", action="append", default=[],
                        help="only mutants whose key contains this text (repeatable)")
    parser.add_argument("--sanity-only", action="store_true", help="stop after the sanity step")
    parser.add_argument("--out", type=Path, help="write every outcome as JSON lines here")
    args = parser.parse_args()
    units = [u.rstrip("/") for u in args.modules]
    for unit in units:
        if unit not in UNITS:
            parser.error(f"unknown module {unit!r}; known: {', '.join(UNITS)}")

    plan: dict[str, list[Mutant]] = {}
    for unit in units:
        mutants = [m for rel in unit_files(unit) for m in collect(rel)]
        if args.match:
            mutants = [m for m in mutants if any(t in m.key for t in args.match)]
        if args.max_mutants and len(mutants) > args.max_mutants:
            mutants = random.Random(f"{args.seed}:{unit}").sample(mutants, args.max_mutants)
            mutants.sort(key=lambda m: (m.file, m.start))
        plan[unit] = mutants
    if args.list:
        for unit, mutants in plan.items():
            for m in mutants:
                print(f"{m.file}:{m.line}  {m.key}")
        return 0

    listed = load_listed()
    copy = make_copy()
    out = args.out.open("w") if args.out else None
    try:
        return _run(copy, {} if args.sanity_only else plan, listed, out, sanity=plan)
    finally:
        if out:
            out.close()
        shutil.rmtree(copy, ignore_errors=True)


def _run(
    copy: Path, plan: dict[str, list[Mutant]], listed: dict[str, str], out: object,
    *, sanity: dict[str, list[Mutant]],
) -> int:
    print(f"copy: {copy}")
    timeouts: dict[str, float] = {}
    # Sanity: the unmutated copy passes (and compiles its bytecode once), the modules come
    # from the copy, and one hand-picked mutant per unit is killed.
    for unit in sanity:
        tests = UNITS[unit]["tests"] + [t for t in _COMMON if (copy / t).exists()]
        first = unit_files(unit)[0]
        base = run_tests(copy, first, tests, 300, write_pyc=True)
        if base.status != "survived":
            print(f"SANITY FAILED: the unmutated tests of {unit} do not pass ({base.status})")
            return 2
        timeouts[unit] = max(10.0, 3 * base.seconds + 5)
        rel, old, new = KNOWN_MUTANTS[unit]
        source = (copy / rel).read_bytes()
        if old and source.count(old.encode()) == 1:
            with Mutated(copy, rel, source) as m:
                m.write(source.replace(old.encode(), new.encode()))
                known = run_tests(copy, rel, tests, timeouts[unit], write_pyc=False)
        else:
            print(f"SANITY FAILED: the known mutant text for {unit} is not unique in {rel}")
            return 2
        if known.status == "survived":
            print(f"SANITY FAILED: known mutant in {rel} ({old!r} -> {new!r}) survived")
            return 2
        print(f"sanity {unit}: baseline passes in {base.seconds:.1f}s, module from "
              f"{base.loaded_from}; known mutant {known.status}")

    new_survivors: list[Mutant] = []
    summary: list[tuple[str, int, int, int, int]] = []
    for unit, mutants in plan.items():
        tests = UNITS[unit]["tests"] + [t for t in _COMMON if (copy / t).exists()]
        killed = equivalent = survived = 0
        for i, mutant in enumerate(mutants, 1):
            source = (copy / mutant.file).read_bytes()
            mutated = mutant.apply(source)
            try:
                compile(mutated, mutant.file, "exec")
            except SyntaxError:
                continue  # not a program: no mutant
            with Mutated(copy, mutant.file, source) as m:
                m.write(mutated)
                outcome = run_tests(copy, mutant.file, tests, timeouts[unit], write_pyc=False)
            reason = listed.get(mutant.key)
            if outcome.status != "survived":
                killed += 1
            elif reason is not None and reason.startswith("equivalent"):
                equivalent += 1
            else:
                survived += 1
                if reason is None:
                    new_survivors.append(mutant)
            mark = {"killed": ".", "timeout": "T"}.get(outcome.status, "S")
            print(f"  [{unit} {i}/{len(mutants)}] {mark} {outcome.seconds:5.1f}s {mutant.file}:{mutant.line} {mutant.key}"
                  if mark == "S" else f"  [{unit} {i}/{len(mutants)}] {mark} {outcome.seconds:5.1f}s", flush=True)
            if out is not None:
                out.write(json.dumps({"unit": unit, "key": mutant.key, "line": mutant.line,  # type: ignore[attr-defined]
                                      "status": outcome.status, "seconds": round(outcome.seconds, 2),
                                      "listed": reason}) + "\n")
                out.flush()  # type: ignore[attr-defined]
        summary.append((unit, len(mutants), killed, equivalent, survived))

    print("\nunit                        mutants  killed  equivalent  survived  kill rate")
    tot = [0, 0, 0, 0]
    for unit, n, k, e, s in summary:
        rate = 100.0 * k / (k + s) if k + s else 100.0
        print(f"{unit:28s} {n:7d} {k:7d} {e:11d} {s:9d}  {rate:8.1f}%")
        for j, v in enumerate((n, k, e, s)):
            tot[j] += v
    rate = 100.0 * tot[1] / (tot[1] + tot[3]) if tot[1] + tot[3] else 100.0
    print(f"{'total':28s} {tot[0]:7d} {tot[1]:7d} {tot[2]:11d} {tot[3]:9d}  {rate:8.1f}%")
    print("(kill rate: killed / (mutants not marked equivalent))")
    if new_survivors:
        print(f"\n{len(new_survivors)} survivor(s) not listed in {SURVIVORS.relative_to(ROOT)}:")
        for m in new_survivors:
            print(f"  {m.file}:{m.line}  {m.key}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
