"""`make compare`: the experiments against HEAD, headline metrics then the params that differ, in 120 columns
(`dvc exp show` printed ~980 characters and cut the params off)."""

from fer_platform.compare import columns, table


def _rev(accuracy: float, epochs: int, widths: list[int]) -> dict:
    return {"data": {
        "metrics": {"reports/metrics/cnn.json": {"data": {"publictest": {"accuracy": accuracy, "macro_f1": 0.5,
                                                                          "robustness_mean": accuracy - 0.1},
                                                           "privatetest": {"accuracy": accuracy + 0.01}}}},
        "params": {"params.yaml": {"data": {"train": {"archs": {"cnn": {"epochs": epochs, "model": {
            "widths": widths, "dropout": 0.3}}}}, "profiles": {"quick": {"train.common.epochs": 3}}}}}}}


def test_compare_fits_120_columns_with_the_metrics_and_only_the_params_that_differ():
    exp_show = [{"rev": "workspace", **_rev(0.66, 20, [64, 128, 256])},
                {"rev": "c656885", "name": "main", **_rev(0.6542, 20, [64, 128, 256]),
                 "experiments": [{"name": "quick-a", "revs": [{"rev": "c33440a", **_rev(0.1457, 3, [16, 32, 64])}]},
                                 {"name": "quick-b", "revs": [{"rev": "d00d00d", **_rev(0.1500, 3, [16, 32, 64])}]}]}]
    cols = columns(exp_show)
    assert [name for name, _, _ in cols] == ["HEAD", "quick-a", "quick-b"]
    text = table(cols, width=120)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 120
    assert lines[0].split() == ["metric", "/", "param", "HEAD", "quick-a", "quick-b"]
    rows = {line.rsplit(None, 3)[0]: line.split()[-3:] for line in lines[2:] if line.strip()}
    assert rows["cnn publictest accuracy"] == ["0.6542", "0.1457", "0.1500"]
    assert rows["cnn publictest robustness mean"] == ["0.5542", "0.0457", "0.0500"]
    assert rows["train.archs.cnn.epochs"] == ["20", "3", "3"]
    assert "train.archs.cnn.model.dropout" not in text and "profiles" not in text  # the same everywhere / profiles
    assert "macro" not in text  # headline numbers only
