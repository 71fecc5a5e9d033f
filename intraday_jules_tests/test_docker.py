"""The Docker stack (``docker/``): real validators when installed, and the rules compose must
keep (health checks everywhere, secrets only from the environment, Grafana provisioned)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from intraday_jules.settings import SETTING_SPECS

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
APP_SERVICES = ("code", "webserver", "daemon", "inference", "celery_worker")
REQUIRED_SECRETS = ("INTRADAY_JULES_DATABASE_PASSWORD", "DAGSTER_PG_PASSWORD",
                    "INTRADAY_JULES_GRAFANA_ADMIN_PASSWORD", "INTRADAY_JULES_DB_READER_PASSWORD",
                    "INTRADAY_JULES_SERVICE_TOKEN", "INTRADAY_JULES_RABBITMQ_PASSWORD")
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|USERID|ACCOUNT")
VAR_REF = re.compile(r"(?<!\$)\$\{(\w+)")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return dict(pairs)


def run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=REPO, env=env,
                          check=False)


needs_compose_v1 = pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose absent (apt-get install docker-compose)")
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None,
                                    reason="promtool absent (apt-get install prometheus)")


@needs_compose_v1
def test_docker_compose_v1_accepts_the_stack_with_the_example_env() -> None:
    for extra in ([], ["--profile", "ibgateway"]):
        result = run(["docker-compose", "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE),
                      *extra, "config", "-q"])
        assert result.returncode == 0, result.stderr


@needs_compose_v1
def test_docker_compose_refuses_the_stack_when_a_required_secret_is_missing(
        tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED_SECRETS}
    result = run(["docker-compose", "--env-file", str(empty), "-f", str(COMPOSE), "config", "-q"],
                 env=env)
    assert result.returncode != 0
    assert any(name in result.stderr for name in REQUIRED_SECRETS), result.stderr


def test_docker_compose_v2_accepts_the_stack_when_the_plugin_exists() -> None:
    if shutil.which("docker") is None or run(["docker", "compose", "version"]).returncode != 0:
        pytest.skip("the `docker compose` v2 plugin is absent")
    result = run(["docker", "compose", "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE),
                  "--profile", "ibgateway", "config", "-q"])
    assert result.returncode == 0, result.stderr


@needs_promtool
def test_promtool_accepts_the_prometheus_config_and_its_alert_rules() -> None:
    result = run(["promtool", "check", "config", str(DOCKER / "prometheus" / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alerts.yml" in result.stdout and "SUCCESS" in result.stdout


def test_the_stack_has_every_service_and_ib_gateway_is_an_opt_in_paper_profile() -> None:
    svc = services()
    assert set(svc) == {"timescaledb", "code", "webserver", "daemon", "inference",
                        "pushgateway", "prometheus", "alertmanager", "grafana", "ibgateway",
                        "rabbitmq", "celery_worker"}
    assert [name for name, s in svc.items() if s.get("profiles")] == ["ibgateway"]
    assert svc["ibgateway"]["profiles"] == ["ibgateway"]
    assert svc["ibgateway"]["environment"]["TRADING_MODE"] == "${IB_TRADING_MODE:-paper}"


def test_every_service_has_a_real_healthcheck() -> None:
    for name, svc in services().items():
        check = svc.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_no_secret_is_written_in_compose_only_referenced_from_the_environment() -> None:
    for name, svc in services().items():
        for key, value in (svc.get("environment") or {}).items():
            if SECRET_KEY.search(key):
                assert re.fullmatch(r"\$\{\w+:[?-][^}]*\}", str(value)), f"{name}.{key}={value}"
    url = services()["code"]["environment"]["INTRADAY_JULES_DATABASE_URL"]
    userinfo = re.match(r"postgresql://(\$\{[^}]+\}):(\$\{[^}]+\})@timescaledb:", url)
    assert userinfo and userinfo[2].startswith("${INTRADAY_JULES_DATABASE_PASSWORD:?"), url
    text = COMPOSE.read_text()
    assert "change-me" not in text
    for secret in REQUIRED_SECRETS:
        assert f"${{{secret}:?" in text, f"{secret} must be required (:?)"


def test_no_secret_is_baked_into_the_image() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith(("ENV", "ARG")):
            assert not SECRET_KEY.search(line.split("=")[0]), line
    assert ".env" not in dockerfile


def test_every_variable_compose_reads_is_documented_in_env_example() -> None:
    documented = env_example()
    code = "\n".join(ln for ln in COMPOSE.read_text().splitlines()
                     if not ln.lstrip().startswith("#"))
    used = set(VAR_REF.findall(code))
    assert {"DAGSTER_PG_PASSWORD", "TWS_USERID", "INTRADAY_JULES_DEPLOYMENT"} <= used
    assert used - set(documented) == set()
    assert all(documented[s].startswith("change-me") for s in REQUIRED_SECRETS)


def test_every_setting_reaches_the_app_containers_from_one_secret_free_anchor() -> None:
    base = compose()["x-app-env"]
    assert {spec.env for spec in SETTING_SPECS if not spec.secret} - set(base) == set()
    assert not [key for key in base if SECRET_KEY.search(key) or key.endswith("DATABASE_URL")]
    assert base["INTRADAY_JULES_PUSHGATEWAY_URL"] == "http://pushgateway:9091"
    svc = services()
    for name in APP_SERVICES:
        env = svc[name]["environment"]
        assert {key: env[key] for key in base} == base, name
    for name in ("code", "inference"):  # the two that open the market/ledger database
        assert svc[name]["environment"]["INTRADAY_JULES_DATABASE_URL"].startswith("postgresql://")


def test_host_ports_bind_to_localhost_only() -> None:
    for name, svc in services().items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


def test_inference_serves_the_service_app_and_checks_health() -> None:
    inference = services()["inference"]
    assert "intraday_jules.service.app:app" in inference["command"]
    assert "/health" in " ".join(inference["healthcheck"]["test"])


def test_grafana_provisions_the_datasource_and_the_dashboard_from_the_repo() -> None:
    grafana = services()["grafana"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana["volumes"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith(
        "${INTRADAY_JULES_GRAFANA_ADMIN_PASSWORD:?")
    provisioning = DOCKER / "grafana" / "provisioning"
    provider = yaml.safe_load((provisioning / "dashboards" / "intraday_jules.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert (DOCKER / "grafana" / "dashboards" / "intraday_jules.json").is_file()
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    assert source["datasources"][0]["url"] == "http://prometheus:9090"


def test_prometheus_scrapes_the_pushgateway_keeping_the_pushed_labels() -> None:
    config = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "pushgateway")
    assert job["honor_labels"] is True
    assert job["static_configs"][0]["targets"] == ["pushgateway:9091"]


def test_webserver_and_daemon_load_the_code_server_the_code_service_runs() -> None:
    workspace = yaml.safe_load((DOCKER / "workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    command = services()["code"]["command"]
    assert server["host"] == "code"
    assert command[command.index("-p") + 1] == str(server["port"])


def test_docker_instance_keeps_the_repository_run_queue_policy() -> None:
    docker_cfg = yaml.safe_load((DOCKER / "dagster.yaml").read_text())
    repo_cfg = yaml.safe_load((REPO / "local" / "dagster.yaml").read_text())
    assert docker_cfg["run_coordinator"] == repo_cfg["run_coordinator"]
    assert docker_cfg["telemetry"] == {"enabled": False}
    db = docker_cfg["storage"]["postgres"]["postgres_db"]
    assert {key: value["env"] for key, value in db.items()} == {
        "hostname": "DAGSTER_PG_HOST", "port": "DAGSTER_PG_PORT", "db_name": "DAGSTER_PG_DB",
        "username": "DAGSTER_PG_USERNAME", "password": "DAGSTER_PG_PASSWORD"}


def test_dockerfile_installs_cpu_torch_before_the_project_and_runs_as_non_root() -> None:
    lines = [ln.strip() for ln in (DOCKER / "Dockerfile").read_text().splitlines()]
    assert next(ln for ln in lines if ln.startswith("FROM")) == (
        "FROM python:3.11.11-slim-bookworm")
    torch = next(i for i, ln in enumerate(lines) if 'pip install "torch==' in ln)
    project = next(i for i, ln in enumerate(lines) if ln.startswith("RUN pip install -e ."))
    assert torch < project
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in lines
    assert "ARG TORCH_VERSION=2.13.0" in lines
    user = [ln for ln in lines if ln.startswith("USER ")]
    assert user and user[-1] not in ("USER root", "USER 0")


@pytest.mark.pg
def test_the_init_script_and_docker_instance_give_dagster_a_postgres_storage(
        pg_server_url: str, tmp_path: Path) -> None:
    """Runs docker/timescaledb's init script on the real server, then loads docker/dagster.yaml."""
    if shutil.which("psql") is None:
        pytest.skip("psql absent")
    import psycopg
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef
    from sqlalchemy.engine import make_url

    server = make_url(pg_server_url)
    name = f"ij_dagster_{uuid.uuid4().hex[:8]}"
    pg_env = {"PGHOST": server.host or "127.0.0.1", "PGPORT": str(server.port or 5432),
              "POSTGRES_USER": server.username or "postgres",
              "POSTGRES_DB": server.database or "postgres", "DAGSTER_PG_USERNAME": name,
              "DAGSTER_PG_PASSWORD": "pw-" + name, "DAGSTER_PG_DB": name}
    if server.password:
        pg_env["PGPASSWORD"] = server.password
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = (DOCKER / "dagster.yaml").read_text().replace("/data/", f"{tmp_path}/data/")
    (home / "dagster.yaml").write_text(config)
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        result = run(["bash", str(DOCKER / "timescaledb" / "10-dagster-database.sh")],
                     env={**os.environ, **pg_env})
        assert result.returncode == 0, result.stderr
        dagster_env = {"DAGSTER_PG_HOST": pg_env["PGHOST"], "DAGSTER_PG_PORT": pg_env["PGPORT"]}
        with pytest.MonkeyPatch.context() as mp:
            for key, value in {**pg_env, **dagster_env}.items():
                mp.setenv(key, value)
            instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
            try:
                assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
                assert type(instance.run_storage).__name__ == "PostgresRunStorage"
                assert instance.get_runs() == []
            finally:
                instance.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


# --- least privilege, placeholders, pinned images (issue 11, finding 8) ----------------------
# Secrets a service must NOT receive: variables, and the compose variables their values use.
FORBIDDEN_SECRETS = {
    "webserver": {"INTRADAY_JULES_DATABASE_URL", "INTRADAY_JULES_DATABASE_PASSWORD",
                  "INTRADAY_JULES_ALPHA_VANTAGE_KEY", "INTRADAY_JULES_IB_ACCOUNT",
                  "INTRADAY_JULES_VAULT_PASSWORD", "INTRADAY_JULES_DB_READER_PASSWORD",
                  "INTRADAY_JULES_SERVICE_TOKEN"},
    "daemon": {"INTRADAY_JULES_DATABASE_URL", "INTRADAY_JULES_DATABASE_PASSWORD",
               "INTRADAY_JULES_ALPHA_VANTAGE_KEY", "INTRADAY_JULES_IB_ACCOUNT",
               "INTRADAY_JULES_VAULT_PASSWORD", "INTRADAY_JULES_DB_READER_PASSWORD",
               "INTRADAY_JULES_SERVICE_TOKEN"},
    "inference": {"INTRADAY_JULES_DATABASE_PASSWORD", "DAGSTER_PG_PASSWORD",
                  "INTRADAY_JULES_ALPHA_VANTAGE_KEY", "INTRADAY_JULES_IB_ACCOUNT",
                  "INTRADAY_JULES_VAULT_PASSWORD", "INTRADAY_JULES_SECRETS_BACKEND",
                  "TWS_PASSWORD", "INTRADAY_JULES_GRAFANA_ADMIN_PASSWORD"},
}
GUARD = "/usr/local/bin/refuse-placeholders"


def _secrets_seen(env: dict[str, Any]) -> set[str]:
    """Variable names in ``env`` plus every compose variable its values reference."""
    return set(env) | {ref for value in env.values() for ref in VAR_REF.findall(str(value))}


def test_app_containers_get_only_the_secrets_they_need_when_parsed() -> None:
    svc = services()
    for name, forbidden in FORBIDDEN_SECRETS.items():
        leaked = _secrets_seen(svc[name]["environment"]) & forbidden
        assert not leaked, f"{name} receives {sorted(leaked)}"
    code = _secrets_seen(svc["code"]["environment"])
    assert {"INTRADAY_JULES_DATABASE_PASSWORD", "DAGSTER_PG_PASSWORD",
            "INTRADAY_JULES_ALPHA_VANTAGE_KEY", "INTRADAY_JULES_IB_ACCOUNT",
            "INTRADAY_JULES_VAULT_PASSWORD"} <= code
    reader_url = svc["inference"]["environment"]["INTRADAY_JULES_DATABASE_URL"]
    assert re.match(r"postgresql://\$\{INTRADAY_JULES_DB_READER_USER:-intraday_jules_reader\}:"
                    r"\$\{INTRADAY_JULES_DB_READER_PASSWORD:\?", reader_url), reader_url


@needs_compose_v1
def test_app_containers_get_only_the_secrets_they_need_when_compose_renders_them() -> None:
    result = run(["docker-compose", "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE),
                  "config"])
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)["services"]
    values = env_example()
    for name, forbidden in FORBIDDEN_SECRETS.items():
        env = rendered[name]["environment"]
        for secret in forbidden & set(values):
            if values[secret]:
                assert not any(values[secret] in str(v) for v in env.values()), (name, secret)
    inference_url = rendered["inference"]["environment"]["INTRADAY_JULES_DATABASE_URL"]
    assert inference_url.startswith("postgresql://intraday_jules_reader:change-me-reader@")


def _guarded_command(service: dict[str, Any]) -> list[str] | None:
    """The guard script (on this machine) and what follows it, if the service starts through it."""
    entrypoint = service.get("entrypoint") or []
    if entrypoint[:2] != ["/bin/sh", GUARD]:
        return None
    mount = next(v for v in service["volumes"] if str(v).split(":")[1] == GUARD)
    assert str(mount).endswith(":ro"), mount
    return [str((DOCKER / str(mount).split(":")[0]).resolve()), *entrypoint[2:]]


def test_every_container_given_a_required_secret_starts_through_the_placeholder_guard() -> None:
    documented = env_example()
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert f'ENTRYPOINT ["/bin/sh", "{GUARD}"]' in dockerfile
    assert f"COPY docker/refuse-placeholders.sh {GUARD}" in dockerfile
    assert "!docker/refuse-placeholders.sh" in (DOCKER / "Dockerfile.dockerignore").read_text()
    for name, svc in services().items():
        refs = _secrets_seen(svc.get("environment") or {})
        if not any(documented.get(ref, "").startswith("change-me") for ref in refs):
            continue
        if name in APP_SERVICES:  # the image's ENTRYPOINT; compose must not bypass it
            assert "entrypoint" not in svc, name
        else:
            assert _guarded_command(svc), f"{name} holds a required secret but is not guarded"
    assert _guarded_command(services()["timescaledb"])[1:] == ["docker-entrypoint.sh"]
    assert services()["timescaledb"]["command"] == ["postgres"]  # entrypoint resets the CMD
    assert _guarded_command(services()["grafana"])[1:] == ["/run.sh"]


def _guard_env(replace_placeholders: bool) -> dict[str, str]:
    values = env_example()
    if replace_placeholders:
        values = {k: f"real-{uuid.uuid4().hex}" if v.startswith("change-me") else v
                  for k, v in values.items()}
    return values


def _run_guard(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run(["sh", str(DOCKER / "refuse-placeholders.sh"), "echo", "started", "a b"],
               env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env})


def test_containers_refuse_to_start_when_a_secret_is_still_a_change_me_placeholder() -> None:
    values = _guard_env(replace_placeholders=False)
    refused = _run_guard({**values, "INTRADAY_JULES_DATABASE_URL":
                          f"postgresql://u:{values['INTRADAY_JULES_DATABASE_PASSWORD']}@db/ij"})
    assert refused.returncode == 78 and "started" not in refused.stdout
    for name in (*REQUIRED_SECRETS, "INTRADAY_JULES_DATABASE_URL"):
        assert name in refused.stderr, refused.stderr
    assert "docker/.env" in refused.stderr
    real = _guard_env(replace_placeholders=True)
    started = _run_guard({**real, "INTRADAY_JULES_DATABASE_URL":
                          f"postgresql://u:{real['INTRADAY_JULES_DATABASE_PASSWORD']}@db/ij"})
    assert started.returncode == 0, started.stderr
    assert started.stdout == "started a b\n"  # the command runs with its arguments intact


@needs_compose_v1
def test_guarded_services_refuse_the_example_env_and_start_with_real_secrets(
        tmp_path: Path) -> None:
    """The guard in front of each service, fed the environment compose renders for it."""
    real_env = tmp_path / "real.env"
    real_env.write_text("".join(f"{k}={v}\n" for k, v in _guard_env(True).items()))
    for env_file, refuses in ((ENV_EXAMPLE, True), (real_env, False)):
        result = run(["docker-compose", "--env-file", str(env_file), "-f", str(COMPOSE),
                      "config"])
        assert result.returncode == 0, result.stderr
        rendered = yaml.safe_load(result.stdout)["services"]
        for name, svc in rendered.items():
            command = _guarded_command(svc) if name not in APP_SERVICES else [
                str(DOCKER / "refuse-placeholders.sh")]
            if command is None:
                continue
            env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
            proc = _run_guard(env)
            assert (proc.returncode == 78) is refuses, (name, proc.stderr)


# Tags that move: a bare major or major.minor, or a channel name.
MOVING_TAG = re.compile(r"^(latest|stable|edge|nightly|main|master)$|^v?\d+(\.\d+)?(-[\w.-]+)?$")


def _is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
    return bool(name and tag) and not MOVING_TAG.match(tag) and bool(
        re.search(r"\d+\.\d+\.\d+", tag))


def test_every_base_and_service_image_is_pinned_to_an_exact_version() -> None:
    assert not _is_pinned("python:3.11-slim") and not _is_pinned("ghcr.io/x/y:stable")
    assert not _is_pinned("grafana/grafana") and not _is_pinned("prom/prometheus:latest")
    assert _is_pinned("python:3.11.11-slim-bookworm") and _is_pinned("x/y@sha256:" + "0" * 64)
    for name, svc in services().items():
        image = svc["image"]
        if name in APP_SERVICES:  # built here from docker/Dockerfile
            assert image == "${INTRADAY_JULES_IMAGE:-intraday-jules:cpu}"
            continue
        assert _is_pinned(image), f"{name}: {image} is not pinned to an exact version"
    froms = [ln.split()[1] for ln in (DOCKER / "Dockerfile").read_text().splitlines()
             if ln.startswith("FROM")]
    assert froms and all(_is_pinned(image) for image in froms), froms


@pytest.mark.pg
def test_the_reader_role_init_script_gives_the_inference_service_read_only_access(
        pg_server_url: str, tmp_path: Path) -> None:
    """docker/timescaledb/20-readonly-role.sh on the real server: the owner's migrations still
    create tables the reader can SELECT; the reader cannot write or create anything."""
    if shutil.which("psql") is None:
        pytest.skip("psql absent")
    import psycopg
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from intraday_jules.agent.model_store import ModelStore
    from intraday_jules.db.engine import create_db_engine
    from intraday_jules.db.migrate import upgrade_to_head

    server = make_url(pg_server_url)
    suffix = uuid.uuid4().hex[:8]
    db, reader = f"ij_reader_{suffix}", f"ij_reader_{suffix}"
    owner = server.username or "postgres"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    env = {**os.environ, "PGHOST": server.host or "127.0.0.1",
           "PGPORT": str(server.port or 5432), "POSTGRES_USER": owner, "POSTGRES_DB": db,
           "INTRADAY_JULES_DB_READER_USER": reader,
           "INTRADAY_JULES_DB_READER_PASSWORD": "pw-" + suffix}
    if server.password:
        env["PGPASSWORD"] = server.password
    owner_url = server.set(database=db).render_as_string(hide_password=False)
    reader_url = server.set(database=db, username=reader, password="pw-" + suffix
                            ).render_as_string(hide_password=False)
    try:
        result = run(["bash", str(DOCKER / "timescaledb" / "20-readonly-role.sh")], env=env)
        assert result.returncode == 0, result.stderr
        owner_engine = create_db_engine(owner_url)
        upgrade_to_head(owner_engine)  # tables created after the role: default privileges
        owner_engine.dispose()
        engine = create_db_engine(reader_url)
        try:
            store = ModelStore(tmp_path / "models", engine, migrate=False)
            assert store.champion_id() is None and store.records() == []
            with engine.connect() as conn:
                tables = conn.execute(sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
                for table in tables:  # every table readable
                    conn.execute(sa.text(f'SELECT count(*) FROM "{table}"'))
            for statement in ("DELETE FROM alembic_version", "CREATE TABLE sneaky (x int)"):
                with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), \
                        engine.begin() as conn:
                    conn.execute(sa.text(statement))
        finally:
            engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{reader}"')


def test_celery_workers_and_the_code_service_share_one_broker_and_the_sweep_app() -> None:
    svc = services()
    broker = compose()["x-celery-env"]["INTRADAY_JULES_CELERY_BROKER_URL"]
    assert broker.startswith("amqp://${INTRADAY_JULES_RABBITMQ_USER:-intraday_jules}:"
                             "${INTRADAY_JULES_RABBITMQ_PASSWORD:?")
    assert broker.endswith("@rabbitmq:5672//")
    for name in ("code", "celery_worker"):
        assert svc[name]["environment"]["INTRADAY_JULES_CELERY_BROKER_URL"] == broker, name
        assert svc[name]["depends_on"]["rabbitmq"] == {"condition": "service_healthy"}
    worker = svc["celery_worker"]
    assert worker["command"][:3] == ["celery", "-A", "intraday_jules.defs.sweeps.celery_app"]
    assert worker["environment"]["INTRADAY_JULES_DATABASE_URL"] == \
        svc["code"]["environment"]["INTRADAY_JULES_DATABASE_URL"]
    assert svc["rabbitmq"]["entrypoint"][:2] == ["/bin/sh", "/usr/local/bin/refuse-placeholders"]
    mounted = [v.split(":")[0] for v in svc["rabbitmq"]["volumes"]]
    conf = DOCKER / "rabbitmq" / "20-consumer-timeout.conf"
    assert "./rabbitmq/20-consumer-timeout.conf" in mounted
    # a sweep step runs for hours and is acknowledged only at its end (task_acks_late)
    assert "consumer_timeout = 604800000" in conf.read_text()
