"""A scratch copy of this project that has run the quick profile end to end (shared by slow tests)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from tests.conftest import REPO
from tests.team_stack import Background, free_port, http_ok

SHARED_REMOTE = REPO.parent / "shared" / "dvc-store"


def run(cmd: list[str], cwd: Path, env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-6000:]}\n"
                             f"{result.stderr[-6000:]}")
    return result


def project_env(root: Path) -> dict:
    # The BentoML store lives beside the project, not in it (a bento build copies its build context).
    env = {**os.environ, "BENTOML_HOME": str(root.parent / "bentoml_home"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    for var in ("MLFLOW_TRACKING_URI", "PYTHONPATH"):  # PREFECT_API_URL: the session's server (conftest)
        env.pop(var, None)
    env["PATH"] = f"{REPO / '.venv' / 'bin'}:{env['PATH']}"
    for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        env.setdefault(var, "fer-platform-tests")
    for var in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        env.setdefault(var, "tests@localhost")
    return env


def make_project(root: Path, pull_data: bool = True) -> tuple[Path, dict]:
    """Copy the working tree (tracked + untracked, not ignored), commit it, materialise the data with DVC
    (unless the project reads another dataset: `pull_data=False`)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)
    env = project_env(root)
    run(["git", "init", "-q"], root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "snapshot"], root, env)
    run(["dvc", "remote", "modify", "--local", "shared", "url", str(SHARED_REMOTE)], root, env)
    if (REPO / ".dvc" / "cache").is_dir():  # reuse the checkout's cache: no second copy of the dataset
        run(["dvc", "cache", "dir", "--local", str(REPO / ".dvc" / "cache")], root, env)
    run(["dvc", "config", "--local", "cache.type", "hardlink,copy"], root, env)
    if pull_data:
        run(["dvc", "pull", "-q", "data.dvc"], root, env)
    return root, env


def link_dataset_cache(source: Path, clone: Path) -> int:
    """Hard-link the objects of `source`'s data.dvc (its .dir listing and every file it names) from source's
    cache into `clone`'s, so that `dvc checkout data.dvc` there needs no copy; returns the files linked."""
    import json

    import yaml

    def obj(cache: Path, md5: str) -> Path:
        return cache / "files" / "md5" / md5[:2] / md5[2:]

    src, dst = source / ".dvc" / "cache", clone / ".dvc" / "cache"
    listing = yaml.safe_load((source / "data.dvc").read_text())["outs"][0]["md5"]
    md5s = [listing] + [entry["md5"] for entry in json.loads(obj(src, listing).read_text())]
    for md5 in md5s:
        target = obj(dst, md5)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.link(obj(src, md5), target)
    return len(md5s) - 1


def tracking_uri(root: Path, env: dict) -> str:
    """Where the project's runs went: the team stack's server (the session's run), else its SQLite file."""
    return env.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow.db'}"


QUICK_EXPERIMENT = "quick-profile"
STATUS_AFTER_RUN = "git-status-after-run.txt"  # beside the project: what `fer-platform run` left modified


def run_quick_profile(root: Path, env: dict) -> subprocess.CompletedProcess:
    """`make run`'s command (the release bootstrapped as champion, then the pipeline), then `dvc exp apply`, so the tests see the experiment's params, lock and metrics
    (fer-platform run restores the checkout's tracked files; what it left is recorded first)."""
    result = run(["fer-platform", "run", "--profile", "quick", "--bootstrap", "--name", QUICK_EXPERIMENT], root, env,
                 timeout=1500)
    status = run(["git", "status", "--porcelain", "--untracked-files=no"], root, env).stdout
    (root.parent / STATUS_AFTER_RUN).write_text(status)
    run(["dvc", "exp", "apply", QUICK_EXPERIMENT], root, env)
    return result




class Server:
    """`bentoml serve` from the project root, on 127.0.0.1:<port>; can be restarted on the same port."""

    def __init__(self, root: Path, env: dict):
        self.root, self.port = root, free_port()
        self.env = {**env, "BENTOML_HOME": str(_own_home(Path(env["BENTOML_HOME"]), self.port))}
        self.url = f"http://127.0.0.1:{self.port}"
        # Ctrl-C first (a graceful bentoml shutdown can take 30 s), SIGKILL after the grace period.
        self.process = Background("bentoml serve", ["bentoml", "serve", "--host", "127.0.0.1", "--port",
                                                    str(self.port)], root / f"serve-{self.port}.log", self.env, root,
                                  stop_signal=signal.SIGINT)

    @property
    def proc(self):
        """The `bentoml serve` process (its tree's memory is measured by tests/serving/test_bad_inputs.py)."""
        return self.process.proc

    def start(self, timeout: float = 180) -> None:
        self.process.start(http_ok(f"{self.url}/readyz"), timeout)

    def stop(self, grace: float = 10) -> None:
        self.process.stop(grace)


def _own_home(home: Path, port: int) -> Path:
    """A BENTOML_HOME of this server's own that shares `home`'s model store and bentos: BentoML clears
    <home>/prometheus_multiproc_dir when a server starts, so two servers on one home lose each other's
    /metrics (one home per replica, as in a container)."""
    own = home.parent / f"{home.name}-serve-{port}"
    own.mkdir(parents=True, exist_ok=True)
    for name in ("models", "bentos"):
        (home / name).mkdir(parents=True, exist_ok=True)
        if not (own / name).exists():
            (own / name).symlink_to(home / name)
    return own
