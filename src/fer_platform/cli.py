"""Shared entry-point plumbing for the stage commands, plus the `fer-platform` command (profiles)."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from fer_platform import version
from fer_platform.config import ConfigError, Params, apply_overrides, load_params
from fer_platform.errors import USER_ERRORS, UserError, entry_point
from fer_platform.io import write_with
from fer_platform.models.architectures import check_recipes
from fer_platform.overrides import has_dotted
from fer_platform.prefect_api import API_ENV, shared_prefect_api
from fer_platform.workspace import TrackedFilesSnapshot

EXIT_OK = 0


def user_errors() -> tuple[type[BaseException], ...]:
    """What an entry point reports in one line (errors.report) instead of a traceback, and never retries."""
    return USER_ERRORS


class StageFailed(UserError):
    """A stage ran and decided the pipeline must stop (e.g. validation errors); its report says why."""


VERBOSE_HELP = "show TensorFlow's start-up log lines (hidden by default; TF_CPP_MIN_LOG_LEVEL, if set, wins)"


def quiet_libraries(env: dict | os._Environ, verbose: bool) -> None:
    """TensorFlow's start-up lines (oneDNN, CPU features, no CUDA) hidden unless asked for (#25). Set either way,
    so the stage processes `fer-platform run` starts (without --verbose of their own) keep the choice."""
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "2")


def run_stage(
    name: str,
    flow: Callable[..., Any],
    argv: Sequence[str] | None,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    inputs: Callable[[dict, Params], list[tuple[Path, str]]] | None = None,
) -> int:
    """Parse `--params` (and stage options), check them and the stage's inputs, run the flow, map user errors to
    a clear message and exit 1. Checks come first: a wrong argument or a missing input is one line in a second,
    not a Prefect server start and two tracebacks. `inputs` lists (path, how to make it) the stage reads."""
    parser = argparse.ArgumentParser(prog=f"python -m flows.{name}", description=flow.__doc__)
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    if add_arguments:
        add_arguments(parser)
    args = vars(parser.parse_args(argv))
    quiet_libraries(os.environ, args.pop("verbose"))  # before the flow imports TensorFlow

    @entry_point(name)
    def checked_run() -> int:
        params = load_params(args["params"])  # validate once at entry: a bad config never starts a flow run
        check_recipes(params, args["params"])  # architectures and builder arguments too (no Keras import)
        for arch in args.get("arch") or []:
            params.train_settings(arch)  # an unknown --arch names the configured ones
        for path, remedy in inputs(args, params) if inputs else []:
            if not Path(path).exists():
                raise FileNotFoundError(f"{path}: not found ({remedy})")
        with stage_lock(name), _patient_ephemeral_prefect_server():
            flow(**args)
        return EXIT_OK

    return checked_run()


STAGE_LOCK = Path(".fer-stage.lock")  # in the project root, beside params.yaml


@contextlib.contextmanager
def stage_lock(name: str):
    """One stage at a time in a project: `python -m flows.*` run by hand does not hold DVC's lock, and two
    stages at once could interleave their writes to the same outputs. A second one waits, and says so."""
    with open(STAGE_LOCK, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another stage"
            print(f"{name}: waiting for {holder} to finish (lock {STAGE_LOCK})", file=sys.stderr, flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(f"stage {name} (pid {os.getpid()})\n")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


# Prefect's temporary API server gets 20 s to start by default; on 2 busy cores (a training running beside it)
# it took longer and the stage failed before doing anything. An explicit environment setting still wins.
_EPHEMERAL_STARTUP_ENV, _EPHEMERAL_STARTUP_S = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", 120


def _patient_ephemeral_prefect_server() -> contextlib.AbstractContextManager[Any]:
    if _EPHEMERAL_STARTUP_ENV in os.environ:
        return contextlib.nullcontext()
    # Here, not at the top: Prefect takes seconds to import, and `fer-platform profile` never runs a flow.
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

    return temporary_settings({PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: _EPHEMERAL_STARTUP_S})


def arch_option(parser: argparse.ArgumentParser) -> None:
    """`--arch NAME` (repeatable) for stages that run per architecture; default: all in params.yaml."""
    parser.add_argument("--arch", action="append", help="architecture key from params.yaml (repeatable)")


def profile_overrides(profile: str, params_path: str = "params.yaml") -> list[str]:
    """`dvc exp run -S` arguments; a key params.yaml does not have yet (a builder argument the profile adds)
    takes Hydra's `+` (append), since DVC refuses to override a key that is not there."""
    overrides = load_params(params_path).profile(profile)
    raw = yaml.safe_load(Path(params_path).read_text())
    return [f"{'' if has_dotted(raw, key) else '+'}{key}={_yaml_value(value)}" for key, value in overrides.items()]


def write_profile_params(params: str | Path, profile: str, out: str | Path) -> Path:
    """`params` with a profile's overrides applied, written to `out` as the file every stage (and every Dask
    worker) reads. Validated before anything is written; never over `params` itself."""
    if Path(out).resolve() == Path(params).resolve():
        raise ConfigError(f"{out}: is the params file itself; write the profile's params to another file")
    overrides = load_params(params).profile(profile)
    applied = apply_overrides(yaml.safe_load(Path(params).read_text()), overrides)
    text = f"# {params} with profile {profile!r} applied (fer-platform profile --write)\n"

    def write_checked(tmp: Path) -> None:
        tmp.write_text(text + yaml.safe_dump(applied, sort_keys=False))
        try:
            load_params(tmp)  # before the rename: an invalid result is never written
        except ConfigError as err:
            raise ConfigError(f"profile {profile!r}: {str(err).replace(str(tmp), str(out))}", err.items) from None

    write_with(out, write_checked)
    return Path(out)


def _yaml_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    return str(value)


@entry_point("fer-platform")
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fer-platform", description="FER platform helpers")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the DVC pipeline with a params profile as a DVC experiment")
    run.add_argument("--profile", default="quick", help="profile name from params.yaml `profiles`")
    run.add_argument("--params", default="params.yaml")
    run.add_argument("--name", default=None, help="experiment name (default: the profile name + time)")
    run.add_argument("--bootstrap", action="store_true",
                     help="first register the committed release model as champion if the registry has none")
    run.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    show = sub.add_parser("profile", help="print a profile's `dvc exp run -S` overrides")
    show.add_argument("name")
    show.add_argument("--params", default="params.yaml")
    show.add_argument("--write", metavar="FILE", help="write params.yaml with the profile applied to FILE instead "
                      "(for `python -m flows.train --params FILE --arch ...`, outside DVC)")
    ready = sub.add_parser("wait-ready", help="wait until a service answers /readyz (exit 1 if it does not)")
    ready.add_argument("--url", default="http://127.0.0.1:3000")
    ready.add_argument("--timeout", type=float, default=90.0, help="seconds (0: ask once)")
    ready.add_argument("--pid", type=int, help="give up at once if this process (the server starting) exits")
    args = parser.parse_args(argv)
    if args.command == "wait-ready":
        from fer_platform.service_client import wait_ready  # httpx: only for this command

        return EXIT_OK if wait_ready(args.url, args.timeout, args.pid) else 1
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    overrides = profile_overrides(args.profile if args.command == "run" else args.name, args.params)
    if args.command == "profile":
        if args.write:
            write_profile_params(args.params, args.name, args.write)
            print(f"{args.write}: {args.params} with profile {args.name} applied")
        else:
            print("\n".join(overrides))
        return EXIT_OK
    cmd = ["dvc", "exp", "run"]
    for override in overrides:
        cmd += ["-S", override]
    if args.name:
        cmd += ["-n", args.name]
    before = TrackedFilesSnapshot()
    try:
        # One Prefect API for every stage process (fer_platform.prefect_api), not a temporary server in each.
        with shared_prefect_api() as api:
            env = {**os.environ, API_ENV: api}
            quiet_libraries(env, args.verbose)  # every stage process inherits it
            if args.bootstrap:
                print("+ python -m flows.bootstrap", flush=True)
                code = subprocess.call([sys.executable, "-m", "flows.bootstrap", "--params", args.params], env=env)
                if code != EXIT_OK:
                    return code
            print("+ " + " ".join(cmd), flush=True)
            return subprocess.call(cmd, env=env)
    finally:
        restored = before.restore()
        if restored:
            print(f"fer-platform: restored {', '.join(restored)} as they were before the run; the experiment keeps "
                  "its values (dvc exp show; dvc exp apply NAME brings them back)", flush=True)
