#!/usr/bin/env bash
# Runs once, when the TimescaleDB volume is first initialised: a read-only login role for the
# inference service, which only reads the model registry. It may SELECT the tables of the
# market/feature/ledger database (those there now and, through default privileges, those the
# owner's migrations create later) and nothing else: no INSERT/UPDATE/DELETE, no DDL.
# On a volume initialised before this script existed, run it once by hand (docs/operations.md).
set -euo pipefail
: "${INTRADAY_JULES_DB_READER_USER:?}" "${INTRADAY_JULES_DB_READER_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v reader="$INTRADAY_JULES_DB_READER_USER" \
  -v reader_password="$INTRADAY_JULES_DB_READER_PASSWORD" \
  -v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"reader" LOGIN PASSWORD :'reader_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
SQL
