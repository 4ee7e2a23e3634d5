"""Register the committed release model as the first `champion` of an empty registry (no-op otherwise)."""

from __future__ import annotations

from prefect import flow

from fer_platform.cli import run_stage
from fer_platform.config import load_params


@flow(name="bootstrap", log_prints=True)
def bootstrap_flow(params: str = "params.yaml") -> dict:
    """Make a fresh clone servable: release/model.keras becomes fer-classifier@champion if none exists."""
    # Here, not at the top: MLflow and Keras take ~12 s to import; a wrong argument fails before that.
    from fer_platform.release.bootstrap import bootstrap_champion

    result = bootstrap_champion(load_params(params).promote.registered_model)
    print(result["reason"])
    return result


def main(argv: list[str] | None = None) -> int:
    return run_stage("bootstrap", bootstrap_flow, argv)


if __name__ == "__main__":
    raise SystemExit(main())
