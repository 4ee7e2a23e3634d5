"""fer_platform.prefect_api: what `fer-platform run` hands its stages (one real Prefect server, or yours)."""

import urllib.request

import pytest

from fer_platform.prefect_api import API_ENV, shared_prefect_api


def test_a_configured_api_is_used_as_it_is(monkeypatch):
    monkeypatch.setenv(API_ENV, "http://prefect.example:4200/api")
    with shared_prefect_api() as api:
        assert api == "http://prefect.example:4200/api"


@pytest.mark.slow  # starts `prefect server start`
def test_without_one_a_server_serves_the_whole_run_and_is_stopped_after(monkeypatch, tmp_path):
    """The branch `make run` takes on a fresh machine (the tests' other runs have a session server)."""
    monkeypatch.delenv(API_ENV, raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect_home"))
    with shared_prefect_api() as api:
        assert api.startswith("http://127.0.0.1:") and api.endswith("/api")
        with urllib.request.urlopen(f"{api}/health", timeout=10) as response:
            assert response.status == 200
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{api}/health", timeout=2)
