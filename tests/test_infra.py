"""The team-stack files say what infra/README.md promises: nothing runs unauthenticated, state is on volumes,
images are pinned, the pod is locked down. (No Docker engine or cluster here: their structure is checked.)"""

import os
import re
import subprocess

import yaml

from tests.conftest import REPO


def _images(node) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "image" and isinstance(v, str)] + \
            [i for v in node.values() for i in _images(v)]
    if isinstance(node, list):
        return [i for v in node for i in _images(v)]
    return []


def test_compose_requires_every_secret_and_keeps_state_on_volumes():
    text = (REPO / "infra/compose.yaml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    for secret in ("MLFLOW_FLASK_SERVER_SECRET_KEY", "MLFLOW_ADMIN_PASSWORD", "PREFECT_AUTH_STRING", "FER_API_TOKEN",
                   "POSTGRES_PASSWORD", "S3_ACCESS_KEY", "S3_SECRET_KEY"):
        assert re.search(r"\$\{" + secret + r":\?", text), f"{secret} must be required (${{{secret}:?...}})"
    assert "--app-name basic-auth" in " ".join(services["mlflow"]["command"])
    assert "PREFECT_SERVER_API_AUTH_STRING" in services["prefect"]["environment"]
    assert "FER_API_TOKEN" in services["fer-service"]["environment"]
    assert "postgresql://" in " ".join(services["mlflow"]["command"])  # the team store, not SQLite
    assert "--artifacts-destination s3://" in " ".join(services["mlflow"]["command"])
    for name in ("postgres", "s3", "mlflow", "prefect"):
        volume = services[name]["volumes"][0].split(":")[0]
        assert volume in compose["volumes"], f"{name} keeps its state on a named volume"
    assert all(p.startswith("127.0.0.1:") for s in services.values() for p in s.get("ports", []))
    for name in ("prefect-worker", "dask-worker"):  # the pipeline's clients of the stack, by environment alone
        env = services[name]["environment"]
        assert env["MLFLOW_TRACKING_URI"].startswith("http://mlflow") and env["DASK_SCHEDULER_ADDRESS"].startswith("tcp://")
        assert env["PREFECT_API_URL"].startswith("http://prefect")
    assert services["fer-service"]["cap_drop"] == ["ALL"]


def test_no_image_floats_on_latest():
    for path in ("infra/compose.yaml", "infra/k8s/fer-service.yaml"):
        for doc in yaml.safe_load_all((REPO / path).read_text()):
            for image in _images(doc):
                assert ":" in image and not image.endswith(":latest"), (path, image)


K8S_VERSION = "1.30.0"  # the oldest Kubernetes the manifests are checked against (autoscaling/v2 is GA there)


def _k8s_documents() -> list[dict]:
    """The manifests as `kubectl apply` gets them: ${FER_SERVICE_TAG} filled in, as infra/k8s says (envsubst)."""
    text = (REPO / "infra/k8s/fer-service.yaml").read_text().replace("${FER_SERVICE_TAG}", "a1b2c3d4")
    return list(yaml.safe_load_all(text))


def test_the_k8s_manifests_validate_against_the_kubernetes_schemas():
    """Every document against the API's own OpenAPI schema (kubernetes-validate, strict: unknown fields fail)."""
    import kubernetes_validate

    docs = _k8s_documents()
    assert [d["kind"] for d in docs] == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    broken = {**docs[0], "spec": {**docs[0]["spec"], "replicas": "two"}}
    try:
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError:
        pass
    else:
        raise AssertionError("the validator accepted replicas: 'two'")


def test_the_autoscaler_scales_the_deployment_on_cpu():
    deployment, _, hpa = _k8s_documents()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": deployment["metadata"]["name"]}
    assert 1 < hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"  # needs the CPU request set on the container (checked below)


def test_the_k8s_pod_is_locked_down_and_bounded():
    deployment, service, _ = _k8s_documents()
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    (container,) = pod["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory", "ephemeral-storage"} <= set(container["resources"][kind])
    assert container["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "fer-api-token"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert re.fullmatch(r"fer-service:[0-9a-z]+", container["image"])  # the bento's tag, never :latest
    assert all(v.get("emptyDir", {}).get("sizeLimit") for v in pod["volumes"])
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


# -- The worker image's build context (.dockerignore) -------------------------------------------------------
# A small matcher after Docker's rules (moby/patternmatcher): patterns are relative to the context root (a
# leading / changes nothing), `*` and `?` stop at /, `**` spans folders, a pattern that matches a folder
# excludes what is under it, `!` re-includes, and the last pattern that matches a path decides.


def _docker_regex(pattern: str) -> re.Pattern:
    assert "[" not in pattern and "\\" not in pattern, f"{pattern}: classes and escapes are not modelled here"
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            out += {"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i]))
            i += 1
    return re.compile(out)


def _dockerignore(context) -> list[tuple[bool, re.Pattern]]:
    """(is an exception, regex) per pattern of context/.dockerignore (none: the whole folder is sent)."""
    path = context / ".dockerignore"
    rules = []
    for line in (path.read_text().splitlines() if path.exists() else []):
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
            rules.append((negated, _docker_regex(pattern)))
    return rules


def _sent(rules, path: str) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]  # the path and every folder above it
    sent = True
    for negated, regex in rules:
        if any(regex.fullmatch(p) for p in prefixes):
            sent = negated
    return sent


def _build_contexts() -> list:
    compose = yaml.safe_load((REPO / "infra/compose.yaml").read_text())
    builds = [s["build"] for s in compose["services"].values() if "build" in s]
    return sorted({(REPO / "infra" / (b if isinstance(b, str) else b["context"])).resolve() for b in builds})


def test_the_docker_matcher_follows_dockers_rules():
    rules = [(False, _docker_regex(p)) for p in ("*.pyc", "**/.env", "reports/*")] + [(True, _docker_regex("reports/m"))]
    assert not _sent(rules, "a.pyc") and _sent(rules, "src/a.pyc")  # anchored at the root, unlike .gitignore
    assert not _sent(rules, ".env") and not _sent(rules, "infra/deep/.env") and _sent(rules, "infra/.envrc")
    assert not _sent(rules, "reports/plots/x.png") and _sent(rules, "reports/m/cnn.json")


def test_the_worker_image_gets_the_committed_tree_and_no_secrets_or_local_state():
    """infra/compose.yaml builds the worker from the repository root and its Dockerfile copies all of it."""
    root = REPO.resolve()
    assert root in _build_contexts()
    rules = _dockerignore(root)
    for secret_or_state in ("infra/.env", ".env", "src/.env", "infra/.env.local", ".dvc/config.local",
                            ".venv/bin/python", "data/fer2013/train/angry/a.jpg", "mlflow.db", "mlflow.db-journal",
                            "mlruns/0/meta.yaml", "mlartifacts/1/model.keras", "artifacts/checkpoints/cnn/last.keras",
                            "reports/plots/cnn/confusion.png", "reports/promotion.json", ".dvc/cache/files/md5/ab/c",
                            ".dvc/tmp/lock", "bentoml_home/models/a", "src/fer_platform/__pycache__/io.cpython-311.pyc",
                            ".pytest_cache/v", ".prefect/prefect.db", "dist/a.whl"):
        assert not _sent(rules, secret_or_state), f"{secret_or_state} goes into the worker image"
    # What the Dockerfile needs: the project and lock for `uv sync`, the DVC files for `dvc pull`, and .git,
    # without which DVC refuses to run and the runs' lineage (git commit, dirty) is lost.
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    needed = [*tracked.splitlines(), ".git/HEAD", ".git/config"]
    assert {"pyproject.toml", "uv.lock", "README.md", "data.dvc", ".dvc/config", "prefect.yaml"} <= set(needed)
    assert not [p for p in needed if not _sent(rules, p)]  # a tracked file left out would also mark runs dirty
    ignored = subprocess.run(["git", "ls-files", "--others", "--ignored", "--exclude-standard", "--directory"],
                             cwd=REPO, capture_output=True, text=True, check=True).stdout.splitlines()
    assert not [p for p in ignored if _sent(rules, p.rstrip("/"))]  # whatever git keeps out stays out


def test_every_other_build_context_holds_no_secrets():
    for context in _build_contexts():
        if context == REPO.resolve():
            continue
        rules = _dockerignore(context)
        sent = [p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file()]
        sent = [p for p in sent if _sent(rules, p)]
        assert "Dockerfile" in sent and not [p for p in sent if p.split("/")[-1].startswith(".env")], (context, sent)
