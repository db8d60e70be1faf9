#!/usr/bin/env bash
# Records every library's public API in src/*/PublicAPI.Unshipped.txt (RS0016 code fix), and drops entries that no
# longer exist (RS0017). Run it after a deliberate change to a public surface, review the diff, commit it.
# A release moves the Unshipped lines into PublicAPI.Shipped.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
for project in src/*/*.csproj; do
  [ "$(basename "$project")" = "Veritee.Cli.csproj" ] && continue
  dotnet format analyzers "$project" --diagnostics RS0016 RS0017 --severity info
done
git --no-pager diff --stat -- 'src/*/PublicAPI.*.txt' || true
