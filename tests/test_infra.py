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
    for secret in ("MLFLOW_FLASK_SERVER_SECRET_KEY", "MLFLOW_ADMIN_PASSWORD", "PREFECT_AUTH_STRING", "FER_API_TOKEN"):
        assert re.search(r"\$\{" + secret + r":\?", text), f"{secret} must be required (${{{secret}:?...}})"
    assert "--app-name basic-auth" in " ".join(services["mlflow"]["command"])
    assert "PREFECT_SERVER_API_AUTH_STRING" in services["prefect"]["environment"]
    assert "FER_API_TOKEN" in services["fer-service"]["environment"]
    for name in ("mlflow", "prefect"):
        volume = services[name]["volumes"][0].split(":")[0]
        assert volume in compose["volumes"], f"{name} keeps its state on a named volume"
    assert all(p.startswith("127.0.0.1:") for s in services.values() for p in s.get("ports", []))
    assert services["fer-service"]["cap_drop"] == ["ALL"]


def test_no_image_floats_on_latest():
    for path in ("infra/compose.yaml", "infra/k8s/fer-service.yaml"):
        for doc in yaml.safe_load_all((REPO / path).read_text()):
            for image in _images(doc):
                assert ":" in image and not image.endswith(":latest"), (path, image)


def test_the_k8s_pod_is_locked_down_and_bounded():
    deployment, service = yaml.safe_load_all((REPO / "infra/k8s/fer-service.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    (container,) = pod["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory", "ephemeral-storage"} <= set(container["resources"][kind])
    assert container["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "fer-api-token"
    assert all(v.get("emptyDir", {}).get("sizeLimit") for v in pod["volumes"])
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
