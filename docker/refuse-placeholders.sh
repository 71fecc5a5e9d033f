#!/bin/sh
# Container entrypoint guard: refuse to start while a secret still holds a placeholder from
# docker/.env.example ("change-me..."), then run the container's own command ("$@").
# compose must still accept .env.example at config time (CI validates the stack with it), so the
# refusal happens here, when a container starts. The app image runs it as its ENTRYPOINT; the
# timescaledb and grafana services run it in front of their images' entrypoints.
# Checked: variables named like a secret (*PASSWORD*, *_PASS (RabbitMQ), *SECRET*, *TOKEN*, *_KEY, *ACCOUNT*,
# *USERID*) whose value starts with change-me, and *_URL variables whose userinfo password does.
set -eu
refused=""
for name in $(awk 'BEGIN { for (k in ENVIRON) print k }'); do
  value=$(printenv "$name" || true)
  case "$name" in
    *PASSWORD*|*_PASS|*SECRET*|*TOKEN*|*_KEY|*ACCOUNT*|*USERID*)
      case "$value" in change-me*) refused="$refused $name" ;; esac ;;
    *_URL)
      case "$value" in *://*:change-me*@*) refused="$refused $name" ;; esac ;;
  esac
done
if [ -n "$refused" ]; then
  echo "refusing to start: placeholder secret (change-me...) from docker/.env.example in:$refused" >&2
  echo "hint: set a real value for each in docker/.env (or the shell), then start again" >&2
  exit 78  # EX_CONFIG
fi
exec "$@"
