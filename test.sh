#!/usr/bin/env bash
# Runs every test project. Extra arguments go to `dotnet test` (e.g. -c Release --no-build).
set -euo pipefail
cd "$(dirname "$0")"
dotnet test Veritee.slnx "$@"
