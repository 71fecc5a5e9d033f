#!/usr/bin/env bash
# Runs once, when the TimescaleDB volume is first initialised: a separate role and database for
# Dagster's run/event/schedule storage on the same server as the market data.
set -euo pipefail
: "${DAGSTER_PG_USERNAME:?}" "${DAGSTER_PG_PASSWORD:?}" "${DAGSTER_PG_DB:?}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v dagster_user="$DAGSTER_PG_USERNAME" -v dagster_password="$DAGSTER_PG_PASSWORD" \
  -v dagster_db="$DAGSTER_PG_DB" <<'SQL'
CREATE ROLE :"dagster_user" LOGIN PASSWORD :'dagster_password';
CREATE DATABASE :"dagster_db" OWNER :"dagster_user";
SQL
