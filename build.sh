#!/usr/bin/env bash
# Builds what Veritee ships into artifacts/ (docs/packaging.md):
#   ./build.sh pack                  the .NET tool (veritee) and the libraries, with symbol packages -> artifacts/packages
#   ./build.sh single-file [RID...]  a self-contained single-file veritee (default linux-x64) -> artifacts/bin/RID/veritee
#   ./build.sh all                   both (single-file for linux-x64, and linux-arm64 when its runtime pack restores)
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
command -v dotnet >/dev/null || { echo "build.sh: the .NET 10 SDK (dotnet) is not on PATH" >&2; exit 1; }

pack() {
  rm -rf artifacts/packages
  # One project at a time, src/ only: packing the solution would also rebuild the test projects, which may be running.
  # VERITEE_PACK: deterministic source paths (ContinuousIntegrationBuild) for the shipped binaries.
  local project
  for project in src/*/*.csproj; do
    VERITEE_PACK=true dotnet pack "$project" -c Release --nologo -v quiet "$@"
  done
  echo "build.sh: packages in artifacts/packages:"
  ls -1 artifacts/packages
}

single_file() {
  local rid=$1
  local stage="artifacts/obj/single-file/$rid"
  rm -rf "$stage"
  VERITEE_PACK=true dotnet publish src/Veritee.Cli/Veritee.Cli.csproj -c Release -r "$rid" --self-contained \
    -p:PublishSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true -p:EnableCompressionInSingleFile=true \
    -p:DebugType=embedded -o "$stage"
  mkdir -p "artifacts/bin/$rid"
  cp "$stage/veritee" "artifacts/bin/$rid/veritee"
  echo "build.sh: artifacts/bin/$rid/veritee ($(du -h "artifacts/bin/$rid/veritee" | cut -f1))"
}

case "${1:-}" in
  pack) shift; pack "$@" ;;
  single-file)
    shift
    [ $# -gt 0 ] || set -- linux-x64
    for rid in "$@"; do single_file "$rid"; done ;;
  all)
    pack
    single_file linux-x64
    single_file linux-arm64 || echo "build.sh: linux-arm64 single file not built (see above)" >&2 ;;
  *) echo "usage: ./build.sh pack | single-file [RID...] | all" >&2; exit 2 ;;
esac
