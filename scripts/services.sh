#!/usr/bin/env bash
# Makes sure the services the tests talk to are up: PostgreSQL on 127.0.0.1:5432.
# On the development machines and in CI it already runs; start it if it stopped.
set -euo pipefail
if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_ctlcluster >/dev/null; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
