"""Built warehouse states for the test suite: each built once per session, copied per test.

A state is a whole $TIERWISE_HOME (landing, build database, dbt target, Dagster instance,
serving releases, reports) produced by the same commands an operator runs. Builders write
states into one cache folder shared by every pytest process of the session (xdist workers
and the background builder that conftest.py starts), under a file lock per builder, so each
state is built exactly once. Tests never write into a state: a test that changes a warehouse
works on a copy, `snapshot(home, dest)` (`cp -a`, which keeps the serving release's hard link).

States:
  golden_loaded    the golden bank (fixtures/golden_bank.py) landed and loaded, nothing built
  golden_jan       ... refreshed for January (`tierwise run --month 2025-01`), published
  golden_feb       ... then February (one run per month, as operators do)
  golden_mar       ... then March
  golden_all       ... then April to June, month by month (the golden warehouse)
  schema_only      the golden January loaded, seeds loaded, every model built empty
                   (`dbt run --empty`): what dbt unit tests and compiled-SQL tests need
  generated        a generated bank (300 customers, 1995-01..1995-04, seed 7) loaded and
                   built in one backfill run: a bank whose history starts decades back
  golden_docs      golden_all with `tierwise docs` run (derived on first use)
The golden chain is built by the session's background builder; schema_only, generated and the
derived states by the first test process that asks for them.

Run `python tests/warehouses.py NAME ...` to build states into $TIERWISE_TEST_STATES.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

HERE = Path(__file__).resolve().parent
for _folder in (str(HERE / "fixtures"), str(HERE)):  # golden_bank, landing_builder (the builder runs this file)
    if _folder not in sys.path:
        sys.path.insert(0, _folder)
CACHE_VAR = "TIERWISE_TEST_STATES"
ALL_FORMATS = "html,pdf,xlsx"
# Reports in most states need no PDF (a CJK PDF costs seconds): the states whose reports the
# report and PII tests read render every format.
TEST_FORMATS = "html,xlsx"


def cache_root() -> Path:
    root = os.environ.get(CACHE_VAR)
    if not root:
        raise RuntimeError(f"{CACHE_VAR} is not set (tests/conftest.py sets it for the session)")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


TIERWISE = str(Path(sys.executable).with_name("tierwise"))


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a `tierwise` process on `home` (its own Dagster instance), `extra` over it."""
    return {**os.environ, "TIERWISE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), **extra}


def cli(home: Path, *args: str, timeout: int = 600, **extra: str) -> subprocess.CompletedProcess:
    """`tierwise ARGS` in its own process on `home`, output captured."""
    return subprocess.run(
        [TIERWISE, *args], env=cli_env(home, **extra), capture_output=True, text=True, timeout=timeout
    )


@contextlib.contextmanager
def isolated_env(home: Path, **env: str) -> Iterator[None]:
    """os.environ for an in-process build of `home`, restored whole afterwards (refreshes set
    DAGSTER_HOME and dbt's variables in os.environ)."""
    saved = dict(os.environ)
    os.environ.pop("TIERWISE_LANDING_DIR", None)
    os.environ.update({"TIERWISE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), **env})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def snapshot(home: Path, dest: Path) -> Path:
    """A copy of a home: `cp -a` keeps hard links (serving.duckdb is one to its release file),
    symlinks (parquet/current) and times. dbt's parsed project in it is kept valid for the new
    path (`_repoint_partial_parse`)."""
    subprocess.run(["cp", "-a", str(home), str(dest)], check=True)
    _repoint_partial_parse(dest)
    return dest


# ------------------------------------------------------------ dbt's partial parse in a copy
# dbt keeps the parsed project in target/partial_parse.msgpack with a hash of the profile's
# connection settings, and those hold the home's absolute DuckDB path: the first dbt command in
# a copied home would parse the whole project again (~6 CPU-s; a session copies ~20 homes that
# then run dbt). The copy gets the hash dbt computes for its own path: dbt's own code renders the
# profile once per session (_profile_info) and only the home in it changes. Nothing else is
# touched: a copy whose rules, variables or project differ is still parsed again by dbt.
_HOME_MARK = "/tierwise-home-mark"
_PROFILE_INFO_CODE = """
import os, sys
from tierwise.config import DBT_PROJECT_DIR, Settings
os.environ.update(Settings(__import__("pathlib").Path(sys.argv[1])).dbt_env())
from argparse import Namespace
from dbt.flags import set_from_args
from dbt_common.context import set_invocation_context
set_from_args(Namespace(), None)
set_invocation_context(os.environ)
from dbt.config.profile import Profile, read_profile
from dbt.config.renderer import ProfileRenderer
profile = Profile.from_raw_profiles(read_profile(str(DBT_PROJECT_DIR)), "tierwise", ProfileRenderer({}))
print(repr(sorted(profile.credentials.connection_info())))
"""


def _profile_info() -> list:
    """dbt's sorted connection info of the DuckDB profile for a home at _HOME_MARK (what dbt
    hashes), rendered once per session by dbt in its own process (importing dbt takes seconds)."""
    import ast

    def compute(path: Path) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("TIERWISE_", "DBT_"))}
        done = subprocess.run([sys.executable, "-c", _PROFILE_INFO_CODE, _HOME_MARK], env=env,
                              capture_output=True, text=True, check=True)  # fmt: skip
        path.write_text(done.stdout)

    return ast.literal_eval(derived("dbt-profile-info.repr", compute).read_text())


def _profile_hash(home: Path) -> str:
    import hashlib
    import pprint

    def moved(value):
        if isinstance(value, str):
            return str(home) + value[len(_HOME_MARK) :] if value.startswith(_HOME_MARK) else value
        if isinstance(value, tuple | list):
            return type(value)(moved(item) for item in value)
        if isinstance(value, dict):
            return {key: moved(item) for key, item in value.items()}
        return value

    home = home.resolve()  # as `Settings.from_env` gives it to dbt
    return hashlib.sha256(pprint.pformat(moved(_profile_info())).encode("utf-8")).hexdigest()


def _repoint_partial_parse(home: Path) -> None:
    import msgpack

    target = home / "dbt" / "target" / "partial_parse.msgpack"
    if not target.is_file() or not os.environ.get(CACHE_VAR):
        return
    data = target.read_bytes()
    state = msgpack.unpackb(data, raw=False, strict_map_key=False)["state_check"]["profile_hash"]
    try:
        new = _profile_hash(home).encode()
    except (RuntimeError, subprocess.CalledProcessError, SyntaxError, ValueError):
        return  # dbt then parses the copy itself; test_manifest_cache.py fails and says why
    old = state["checksum"].encode()
    if state["name"] == "sha256" and data.count(old) == 1 and len(new) == len(old):
        target.write_bytes(data.replace(old, new))  # same length: the rest of the file is unchanged


def _main(*args: str) -> None:
    from tierwise.cli import main

    code = main(list(args))
    if code != 0:
        raise RuntimeError(f"tierwise {' '.join(args)} exited {code}")


# ------------------------------------------------------------------------------- builders
def _done(root: Path, name: str) -> Path:
    return root / f"{name}.done"


def _mark_done(root: Path, name: str) -> None:
    _done(root, name).touch()
    target = os.environ.get("TIERWISE_TEST_TIMELINE")  # conftest.py: the suite's timeline
    if target:
        with open(target, "a") as out:
            out.write(json.dumps({"state": name, "pid": os.getpid(), "done": round(time.time(), 2)}) + "\n")


def _keep(root: Path, work: Path, name: str) -> None:
    """Make `name` a copy of the work home now, once: a state another process may already be
    reading is never replaced (a rebuild after a killed builder keeps the states it finished)."""
    if _done(root, name).exists():
        return
    shutil.rmtree(root / name, ignore_errors=True)
    snapshot(work, root / name)
    _mark_done(root, name)


def build_golden(root: Path) -> None:
    from golden_bank import MONTHS, write_golden_bank

    work = root / "golden.work"
    shutil.rmtree(work, ignore_errors=True)
    with isolated_env(work, TIERWISE_REPORT_FORMATS=ALL_FORMATS):
        write_golden_bank(work / "landing")
        _main("load")
        _keep(root, work, "golden_loaded")
        for month, name in zip(MONTHS[:3], ("golden_jan", "golden_feb", "golden_mar"), strict=True):
            _main("run", "--month", month)
            _keep(root, work, name)
        _main("backfill", "--from", MONTHS[3], "--to", MONTHS[-1], "--month-by-month")
        _keep(root, work, "golden_all")
    shutil.rmtree(work)


def build_schema_only(root: Path) -> None:
    from golden_bank import MONTHS, write_golden_bank
    from tierwise.config import Settings

    work = root / "schema_only.work"
    shutil.rmtree(work, ignore_errors=True)
    with isolated_env(work):
        write_golden_bank(work / "landing")
        _main("load", str(work / "landing" / MONTHS[0]))
        settings = Settings(work)
        # the month as a refresh passes it (macros/months.sql), not --vars: the parsed project
        # kept in the state is then reused by the tests' dbt commands, which give no vars
        for step in (("seed",), ("run", "--empty")):
            done = settings.run_dbt(*step, env={"TIERWISE_AS_OF_MONTH": MONTHS[0]})
            if done.returncode != 0:
                raise RuntimeError(f"dbt {' '.join(step)} failed:\n{done.stdout[-3000:]}")
        _keep(root, work, "schema_only")
    shutil.rmtree(work)


GENERATED_COMMANDS = (
    ("generate", "--customers", "300", "--months", "4", "--end-month", "1995-04", "--seed", "7"),
    ("load",),
    ("backfill", "--from", "1995-01", "--to", "1995-04"),
)


def build_generated(root: Path) -> None:
    """The CLI path end to end; what each command printed is kept in the state's commands.log."""
    work = root / "generated.work"
    shutil.rmtree(work, ignore_errors=True)
    with isolated_env(work):
        work.mkdir(parents=True)
        with open(work / "commands.log", "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
            for command in GENERATED_COMMANDS:
                print(f"$ tierwise {' '.join(command)}", flush=True)
                _main(*command)
        _keep(root, work, "generated")
    shutil.rmtree(work)


@dataclass(frozen=True)
class Builder:
    name: str
    states: tuple[str, ...]
    build: Callable[[Path], None]
    # built by the session's background builder; otherwise by the first test process that
    # asks for it, while the background builder works on the others
    background: bool = True


BUILDERS = (
    Builder("golden", ("golden_loaded", "golden_jan", "golden_feb", "golden_mar", "golden_all"), build_golden),
    # The two short chains (~20 s and ~40 s of a refresh) are built by the first test that asks:
    # queued behind the golden chain (~4 min), their tests' processes sat idle while the machine
    # had a core to spare (clean-clone runs sampled both cores at half use for ~80 s while the
    # background builder alone finished its queue).
    Builder("generated", ("generated",), build_generated, background=False),
    Builder("schema_only", ("schema_only",), build_schema_only, background=False),
)
BUILDER_OF = {state: builder for builder in BUILDERS for state in builder.states}


BUILDER_VAR = "TIERWISE_STATE_BUILDER"  # set in the background builder's own process
STARTED = "background-builder.started"  # written once the session's builder is decided


def _claimed(root: Path, builder: str) -> bool:
    """True while the background builder has this chain to build (and is alive)."""
    if os.environ.get(BUILDER_VAR):
        return False
    try:
        owner = (root / f"{builder}.claim").read_text().strip()
    except FileNotFoundError:
        return False
    if owner == "pending":
        return True
    try:
        os.kill(int(owner), 0)
    except (ProcessLookupError, ValueError):
        return False
    return True


def _wait_for_the_builder_decision(root: Path) -> None:
    """An xdist worker other than gw0 (which starts the builder) waits until gw0 has claimed
    what the builder will build, so it does not start the same chain itself."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    deadline = time.monotonic() + 300
    while worker not in (None, "gw0") and not (root / STARTED).exists() and time.monotonic() < deadline:
        time.sleep(0.5)


def _build_once(root: Path, name: str, key: str, build: Callable[[], None], claimed=lambda: False) -> Path:
    """Wait for state `name`'s own marker; build it (under lock `key`) when nobody else is or
    will (`claimed`: the background builder has it). A build that failed fails every later
    caller at once with the same cause."""
    lock = FileLock(str(root / f"{key}.lock"))
    failed = root / f"{key}.failed"
    while not _done(root, name).exists():
        if failed.exists():
            raise RuntimeError(f"building state {name} failed earlier in this session:\n{failed.read_text()}")
        if claimed():
            time.sleep(1)
            continue
        try:
            lock.acquire(timeout=1)
        except Timeout:
            continue  # being built elsewhere: look for the marker again
        try:
            if not _done(root, name).exists():
                build()
        except BaseException as exc:
            failed.write_text(f"{type(exc).__name__}: {exc}\n")
            raise
        finally:
            lock.release()
    return root / name


def state(name: str) -> Path:
    """The home of a built state (read it, never write it); built on first use in the session.
    While another process builds the chain it belongs to, wait for this state's own marker, not
    for the whole chain (golden_jan is ready minutes before golden_all)."""
    root = cache_root()
    builder = BUILDER_OF[name]
    _wait_for_the_builder_decision(root)
    return _build_once(root, name, builder.name, lambda: builder.build(root), lambda: _claimed(root, builder.name))


def claim(root: Path, states: list[str], owner: str) -> None:
    """Mark the chains of `states` as the background builder's (`owner`: its pid, or pending)."""
    for wanted in states:
        (root / f"{BUILDER_OF[wanted].name}.claim").write_text(owner + "\n")


def derived(name: str, build: Callable[[Path], None]) -> Path:
    """A state a test module derives from another (e.g. the reliability suite's refresh killed
    mid-publish), built once per session like the others: `build(home)` creates `home` (a
    folder, or a file such as the dbt profile info)."""
    root = cache_root()

    def build_here() -> None:
        shutil.rmtree(root / name, ignore_errors=True)
        build(root / name)
        _mark_done(root, name)

    return _build_once(root, name, name, build_here)


def _golden_with_docs(home: Path) -> None:
    snapshot(state("golden_all"), home)
    with isolated_env(home), open(home / "docs.log", "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        print("$ tierwise docs", flush=True)
        _main("docs")


def golden_docs() -> Path:
    """Derived state: the golden warehouse with its docs site built (`tierwise docs`, output in
    docs.log)."""
    return derived("golden_docs", _golden_with_docs)


def builders_for(states: set[str]) -> list[str]:
    """One state per background builder that `states` need, in the order it takes them."""
    return [b.states[-1] for b in BUILDERS if b.background and set(b.states) & states]


if __name__ == "__main__":  # the background builder conftest.py starts: build these states now
    os.environ[BUILDER_VAR] = "1"
    for wanted in sys.argv[1:]:
        state(wanted)
