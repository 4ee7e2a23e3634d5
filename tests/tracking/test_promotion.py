"""The promotion gate never lets a worse model take `champion` (a real MLflow registry on SQLite)."""

import numpy as np

from fer_platform.tracking.promotion import CHALLENGER, CHAMPION, Candidate, decide


def test_decide_gate():
    assert decide(0.60, None, 0.01)[0] == CHAMPION
    assert decide(0.62, 0.60, 0.01)[0] == CHAMPION
    assert decide(0.605, 0.60, 0.01)[0] == CHALLENGER
    alias, reason = decide(0.50, 0.60, 0.0)
    assert alias == CHALLENGER and "champion kept" in reason


def _log_model(model, name: str) -> tuple[str, str]:
    from fer_platform.tracking.store import configure
    from fer_platform.tracking.model_logging import model_signature

    mlflow = configure()
    with mlflow.start_run(run_name=name) as run:
        info = mlflow.keras.log_model(model, name="model", signature=model_signature(),
                                      pip_requirements=["keras"])
    return run.info.run_id, info.model_uri


def test_worse_candidate_never_takes_champion(tmp_path, small_dataset, monkeypatch):
    import keras
    from mlflow import MlflowClient

    from fer_platform.tracking.promotion import promote

    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    sel = small_dataset.split("PublicTest")
    x, y = sel.images[..., None], sel.labels

    def accuracy(model) -> float:
        return float((model.predict(x, verbose=0).argmax(1) == y).mean())

    def softmax_regression():
        # The gate is under test, not an architecture: a BatchNorm-free model memorises 42 faces reliably.
        inputs = keras.Input((48, 48, 1), dtype="uint8")
        x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
        return keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))

    keras.utils.set_random_seed(7)
    weak = softmax_regression()  # untrained
    strong = softmax_regression()
    strong.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    strong.fit(x, y, epochs=100, batch_size=42, verbose=0)
    weak_acc, strong_acc = accuracy(weak), accuracy(strong)
    assert strong_acc > weak_acc + 0.1  # the premise: clearly better than the 0.01 margin

    def candidate(model, acc, arch):
        run_id, uri = _log_model(model, arch)
        return Candidate(arch, run_id, uri, acc, 0.0, len(y))

    client = MlflowClient(tracking_uri=store, registry_uri=store)  # not MLflow's process-global URI
    first = promote([candidate(weak, weak_acc, "weak")], "fer-test", 0.01, x[..., 0], y)
    assert first.alias == CHAMPION and first.version == "1"
    better = promote([candidate(strong, strong_acc, "strong")], "fer-test", 0.01, x[..., 0], y)
    assert better.alias == CHAMPION and better.version == "2"
    worse = promote([candidate(weak, weak_acc, "weak-again")], "fer-test", 0.01, x[..., 0], y)
    assert worse.alias == CHALLENGER and worse.previous_champion_version == "2"
    assert str(client.get_model_version_by_alias("fer-test", CHAMPION).version) == "2"
    assert str(client.get_model_version_by_alias("fer-test", CHALLENGER).version) == "3"
    tags = client.get_model_version("fer-test", "3").tags
    assert tags["promotion.decision"] == CHALLENGER and "champion kept" in tags["promotion.reason"]
    assert np.isclose(worse.champion_publictest_accuracy, strong_acc)  # champion re-scored on these images


def test_a_registry_that_cannot_be_read_is_never_taken_for_one_without_a_champion(tmp_path, monkeypatch):
    """A locked or broken store must fail the stage, not make any candidate (or the bootstrap) champion."""
    import sqlite3

    from fer_platform.tracking.model_versions import aliased_version

    monkeypatch.chdir(tmp_path)
    store = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    assert aliased_version("fer-test", CHAMPION) is None  # an empty registry: definitely no champion
    from mlflow import MlflowClient

    MlflowClient().create_registered_model("fer-test")
    assert aliased_version("fer-test", CHAMPION) is None  # a model without the alias: no champion either
    lock = sqlite3.connect(store, timeout=0)
    lock.execute("PRAGMA locking_mode = EXCLUSIVE")
    lock.execute("BEGIN EXCLUSIVE")  # another process holds the store
    try:
        import pytest
        from mlflow.exceptions import MlflowException

        with pytest.raises(MlflowException, match="(?i)locked"):
            aliased_version("fer-test", CHAMPION)
    finally:
        lock.rollback()
        lock.close()
