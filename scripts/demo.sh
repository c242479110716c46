#!/usr/bin/env bash
# Set-up command 1: install everything into .venv/ and run the main job on embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh
exec .venv/bin/gridwatch demo "$@"
