#!/usr/bin/env bash
# Set-up command 2: install everything and run the checks and the tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -m slow for the scale tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh

# PostgreSQL: the tests use a real server (GRIDWATCH_TEST_PG_URL, default the local
# one with trust auth). Start the local cluster if it is installed but stopped.
export GRIDWATCH_TEST_PG_URL=${GRIDWATCH_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}
if command -v pg_ctlcluster >/dev/null && ! pg_isready -q -h 127.0.0.1 2>/dev/null; then
  for version in /etc/postgresql/*; do
    [[ -d $version ]] && pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
  done
fi

echo "== ruff"; .venv/bin/ruff check .
echo "== ruff format"; .venv/bin/ruff format --check .
echo "== mypy"; .venv/bin/mypy
echo "== pytest"
mkdir -p test-artifacts
exec .venv/bin/pytest -m "not slow" -p no:cacheprovider "$@"
