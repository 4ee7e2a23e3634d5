"""Shared fixtures: small, fixed subsets of the real FER2013 in ../shared (never synthetic faces)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_FER = REPO.parent / "shared" / "datasets" / "fer2013"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")  # repos a test `dvc init`s (the project: its .dvc/config)


def pytest_configure(config):
    """absl (TensorFlow's logging) binds its handler to the sys.stderr of its first import: inside a test, that
    test's capture, which Prefect's logging set-up later closes ("I/O operation on closed file" in every test
    after). Bound here, once, to the real stderr."""
    import absl.logging

    absl.logging.get_absl_handler().python_handler.stream = sys.__stderr__


def _require_shared() -> Path:
    if not SHARED_FER.is_dir():
        pytest.fail(f"FER2013 not found at {SHARED_FER}: the tests need ../shared beside the project")
    return SHARED_FER


def copy_subset(dest: Path, per_class: int) -> Path:
    """The first `per_class` images (sorted names) of every emotion for each of the three splits."""
    src = _require_shared()
    for folder, prefixes in (("train", ("Training",)), ("test", ("PublicTest", "PrivateTest"))):
        for emotion_dir in sorted((src / folder).iterdir()):
            out = dest / folder / emotion_dir.name
            out.mkdir(parents=True, exist_ok=True)
            names = sorted(p.name for p in emotion_dir.iterdir())
            for prefix in prefixes:
                for name in [n for n in names if n.startswith(prefix + "_")][:per_class]:
                    shutil.copy2(emotion_dir / name, out / name)
    return dest


# Tests that share the quick project (trained once per session) run in one pytest-xdist worker (`make test` runs
# `pytest -n 3 --dist loadgroup`), those that share the release server in one; everything else is spread over all.
QUICK_PROJECT_GROUP = "quick_project"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups off the items
def pytest_collection_modifyitems(config, items):
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "quick_project" in names:
            item.add_marker(pytest.mark.xdist_group(QUICK_PROJECT_GROUP))
        elif "release_project" in names:  # one release project and server, not one per worker
            item.add_marker(pytest.mark.xdist_group("release_server"))
    # Tests that wait for a quiet machine go last, with their modules (module-scoped fixtures, such as the browser,
    # start once): their group's worker then waits only for the other workers' ends.
    quiet = {item.module.__name__ for item in items if "quiet_machine" in getattr(item, "fixturenames", ())}
    items.sort(key=lambda item: (item.module.__name__ in quiet, "quiet_machine" in getattr(item, "fixturenames", ())))


# Which pytest-xdist workers are inside a test right now: one file each (its pid, the test), in a folder of this
# run's own (the workers share the run's uid). `quiet_machine` waits until the others are done.
QUIET_FOR_S = 3.0  # this long with no other worker in a test: not a gap between two of its tests
QUIET_WAIT_S = 1500  # the suite's longest worker (the quick project, ~12 min here) with room for a slower machine
WAITING = "waiting for a quiet machine"  # a peer in quiet_machine too: not busy (else both would wait)


def _activity_dir() -> Path | None:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    return Path(tempfile.gettempdir()) / f"fer-tests-{run}" if run and os.environ.get("PYTEST_XDIST_WORKER") else None


def _mark_activity(what: str | None) -> None:
    folder = _activity_dir()
    if folder is None:  # not a worker (the controller relays these hooks too: it runs no test)
        return
    mine = folder / os.environ["PYTEST_XDIST_WORKER"]
    if what is None:
        mine.unlink(missing_ok=True)
    else:
        folder.mkdir(exist_ok=True)
        mine.write_text(f"{os.getpid()} {what}")


def _busy_peers(folder: Path) -> list[str]:
    busy = []
    for peer in folder.iterdir():
        try:
            pid, _, what = peer.read_text().partition(" ")
        except FileNotFoundError:  # its test just ended
            continue
        if peer.name == os.environ["PYTEST_XDIST_WORKER"] or not pid or what == WAITING:
            continue
        try:
            os.kill(int(pid), 0)  # a crashed worker's file stays: its pid is gone
        except ProcessLookupError:
            continue
        busy.append(peer.name)
    return busy


def pytest_runtest_logstart(nodeid, location):
    _mark_activity(nodeid)


def pytest_runtest_logfinish(nodeid, location):
    _mark_activity(None)


def pytest_sessionfinish(session):
    folder = _activity_dir()
    if folder is not None:
        with contextlib.suppress(OSError):  # the last worker out removes it
            folder.rmdir()


@pytest.fixture
def quiet_machine():
    """Waits until no other pytest worker is in a test (the run's last minutes, when the other workers have
    finished theirs), so that a test can hold the machine's rate to a number: the suite's trainings share the
    2 cores otherwise. Fails, rather than measuring beside them, if they are still busy after QUIET_WAIT_S."""
    folder = _activity_dir()
    if folder is None:
        return
    _mark_activity(WAITING)
    deadline, quiet_since = time.monotonic() + QUIET_WAIT_S, None
    while quiet_since is None or time.monotonic() - quiet_since < QUIET_FOR_S:
        busy = _busy_peers(folder)
        quiet_since = None if busy else quiet_since or time.monotonic()
        if busy and time.monotonic() > deadline:
            pytest.fail(f"other pytest workers still in a test after {QUIET_WAIT_S} s: {busy}")
        time.sleep(0.5)
    _mark_activity("measuring")


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory):
    """One real `prefect server` for the session (fer_platform.prefect_api, as `fer-platform run` starts one):
    every flow run of a test that asks for it (in-process or a subprocess, which inherits PREFECT_API_URL)
    reports to it. Only tests that run flows ask: unit tests start no server."""
    from fer_platform.prefect_api import API_ENV, PrefectServer

    home = tmp_path_factory.mktemp("prefect_home")
    server = PrefectServer(home, log=home / "server.log")
    os.environ[API_ENV] = server.start()
    yield os.environ[API_ENV]
    os.environ.pop(API_ENV, None)
    server.stop()


@pytest.fixture(scope="session")
def small_fer(tmp_path_factory) -> Path:
    """An image-folder FER2013 with 6 real images per class per split (126 images). Read-only by convention."""
    return copy_subset(tmp_path_factory.mktemp("fer_small") / "fer2013", per_class=6)


@pytest.fixture
def fer_copy(tmp_path, small_fer) -> Path:
    """A private, writable copy of the small dataset for corruption tests."""
    return Path(shutil.copytree(small_fer, tmp_path / "fer2013"))


@pytest.fixture(scope="session")
def small_dataset(small_fer):
    from fer_platform.data.readers import read_fer2013

    return read_fer2013(small_fer)


SMALL_SPLIT_SIZES = {"Training": 42, "PublicTest": 42, "PrivateTest": 42}
# The subset holds one real blank image (train/angry/Training_10131352.jpg): 1 of 42 is 2.4%.
SMALL_MAX_BLANK_FRACTION = 0.05


@pytest.fixture(scope="session")
def team_stack(tmp_path_factory):
    """PostgreSQL, an S3 server (moto) and an MLflow server on both, all on loopback (tests/team_stack.py)."""
    from tests.team_stack import TeamStack

    stack = TeamStack(tmp_path_factory.mktemp("team_stack"))
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def quick_project(tmp_path_factory, team_stack, prefect_api):
    """A scratch copy of the project after `fer-platform run --profile quick` (minutes; slow tests only),
    tracked on the team stack: MLFLOW_TRACKING_URI is the MLflow server on PostgreSQL and S3."""
    from tests.quick_project import make_project, project_env, run_quick_profile

    reuse = os.environ.get("FER_TEST_QUICK_PROJECT")  # developers: a project that already ran the profile
    if reuse:
        return Path(reuse), project_env(Path(reuse))
    root, env = make_project(tmp_path_factory.mktemp("quick") / "project")
    env["MLFLOW_TRACKING_URI"] = team_stack.tracking_uri
    run_quick_profile(root, env)
    return root, env


@pytest.fixture(scope="session")
def packaged(quick_project):
    """The quick project's package stage (run by DVC in the profile): champion in the BentoML store, bento
    built. Not re-run here, so the pipeline stays up to date for the tests that check `dvc repro`."""
    root, env = quick_project
    assert (root / "reports/bento.json").exists(), "the quick profile did not run the package stage"
    return root, env


@pytest.fixture(scope="session")
def release_project(tmp_path_factory, prefect_api):
    """A side directory with the committed release model as champion of its own MLflow registry, exported to its
    own BentoML store (what `make run` serves, as the quick run stays challenger): (root, env) for `bentoml
    serve`. It needs no quick project, so the tests that serve run beside the quick project's."""
    from tests.quick_project import project_env, run

    side = tmp_path_factory.mktemp("release_serving")
    for name in ("params.yaml", "bentofile.yaml"):
        shutil.copy2(REPO / name, side / name)
    for name in ("release", "data"):
        (side / name).symlink_to(REPO / name)
    renv = {**project_env(side), "BENTOML_HOME": str(side / "bentoml_home"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{side / 'mlflow.db'}", "PYTHONPATH": str(REPO)}  # flows/
    run(["python", "-m", "flows.ingest"], side, renv)  # the export's parity check reads its PrivateTest faces
    run(["python", "-m", "flows.bootstrap"], side, renv)
    run(["python", "-m", "flows.package", "--no-build"], side, renv)
    return side, renv


@pytest.fixture(scope="session")
def release_server(release_project):
    """A real `bentoml serve` of the release model on a free loopback port."""
    from tests.quick_project import Server

    srv = Server(*release_project)
    srv.start()
    yield srv
    srv.stop()
