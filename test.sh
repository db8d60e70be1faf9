#!/usr/bin/env bash
# Runs every test project. Extra arguments go to `dotnet test` (e.g. -c Release --no-build).
# First installs what the tests need beyond the .NET SDK when it is missing (Node.js, PostgreSQL, nginx, the
# compatibility suites' npm packages): tools/install-test-prereqs.sh, quick when everything is there.
set -euo pipefail
cd "$(dirname "$0")"
command -v dotnet >/dev/null || { echo "test.sh: the .NET 10 SDK (dotnet) is not on PATH" >&2; exit 1; }
bash tools/install-test-prereqs.sh
dotnet test Veritee.slnx "$@"
