"""How the service is built and deployed: nothing read at import, the app factory, and no
database password in any response or log line of a real server process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from intraday_jules.features import DEFAULT_SPEC
from intraday_jules.service import create_app
from intraday_jules.service.loadcheck import run_service
from intraday_jules_tests.service.conftest import (
    OTHER_SPEC,
    Models,
    serve_in_thread,
    service_env,
    set_champion,
)

PASSWORD = "Sup3r-S3cret-pw-4711"


def test_importing_the_app_reads_no_settings_and_loads_no_torch(tmp_path: Path) -> None:
    code = ("import sys, intraday_jules.service.app as m; "
            "assert m.app.title; assert 'torch' not in sys.modules, 'torch imported'")
    env = service_env(tmp_path, INTRADAY_JULES_DEPLOYMENT="not-a-deployment")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_an_app_whose_live_spec_differs_from_the_champions_is_not_ready_naming_both(
        models: Models) -> None:
    set_champion(models.store, models.dual_a)
    with serve_in_thread(create_app(store=models.store, live_spec=OTHER_SPEC)) as url:
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
        response = httpx.get(f"{url}/ready", timeout=30)
    assert response.status_code == 503
    body = response.json()
    assert (body["model_spec_version"], body["live_spec_version"]) == (DEFAULT_SPEC.version,
                                                                       OTHER_SPEC.version)
    assert DEFAULT_SPEC.version in body["reason"] and OTHER_SPEC.version in body["reason"]


def test_the_database_password_is_in_no_response_and_no_log_line(tmp_path: Path) -> None:
    url = f"postgresql://jules:{PASSWORD}@127.0.0.1:1/registry"  # nothing listens on port 1
    env = service_env(tmp_path, INTRADAY_JULES_DATABASE_URL=url,
                      INTRADAY_JULES_LOG_LEVEL="DEBUG")
    with run_service(env, tmp_path / "service.log") as service, httpx.Client(
            base_url=service.url, timeout=30) as http:
        answers = [http.get("/health"), http.get("/ready"), http.get("/model"),
                   http.post("/predict", json={"observations": [[0.0] * 26]}),
                   http.post("/predict", json={"observations": [[0.0] * 25]})]
        assert [a.status_code for a in answers] == [200, 503, 503, 503, 422]
        reason = answers[1].json()["reason"]
        assert "jules:***@127.0.0.1:1/registry" in reason and "unavailable" in reason
    log = service.log()
    assert "jules:***@127.0.0.1:1/registry" in log and "not ready" in log
    assert '"GET /ready HTTP/1.1" 503' in log and "Logging error" not in log  # access log intact
    for text in [log, *(a.text for a in answers)]:
        assert PASSWORD not in text
