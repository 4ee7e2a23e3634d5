"""The team-stack files say what infra/README.md promises: nothing runs unauthenticated, state is on volumes,
images are pinned, the pod is locked down. (No Docker engine or cluster here: their structure is checked.)"""

import re

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
