#!/usr/bin/env bash
# Builds what Veritee ships into artifacts/ (docs/packaging.md):
#   ./build.sh pack                  the .NET tool (veritee) and the libraries, with symbol packages -> artifacts/packages
#   ./build.sh single-file [RID...]  a self-contained single-file veritee (default linux-x64) -> artifacts/bin/RID/veritee
#   ./build.sh all                   both (single-file for linux-x64, and linux-arm64 when its runtime pack restores)
#   ./build.sh install               pack, then (re)install the veritee command as a global .NET tool from artifacts/packages
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
  # Restores cache packages by id and version: drop our own just-packed versions from the cache, so the next
  # `dotnet tool update` or sample build takes these packages, not an older pack of the same version.
  local cache="${NUGET_PACKAGES:-$HOME/.nuget/packages}" nupkg base id version
  for nupkg in artifacts/packages/*.nupkg; do
    base=$(basename "$nupkg" .nupkg)
    version=$(sed -E 's/^.*\.([0-9]+\.[0-9]+\.[0-9]+([-+].*)?)$/\1/' <<<"$base")
    id=${base%."$version"}
    rm -rf "$cache/${id,,}/$version"
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

install_tool() {
  pack
  # `dotnet tool update` keeps an installed tool of the same version, so a fresh pack is installed anew.
  dotnet tool uninstall --global veritee >/dev/null 2>&1 || true
  dotnet tool install --global veritee --add-source artifacts/packages
  case ":$PATH:" in
    *":$HOME/.dotnet/tools:"*) ;;
    *) echo "build.sh: add the tools folder to PATH: export PATH=\"\$PATH:\$HOME/.dotnet/tools\"" ;;
  esac
}

case "${1:-}" in
  pack) shift; pack "$@" ;;
  install) install_tool ;;
  single-file)
    shift
    [ $# -gt 0 ] || set -- linux-x64
    for rid in "$@"; do single_file "$rid"; done ;;
  all)
    pack
    single_file linux-x64
    single_file linux-arm64 || echo "build.sh: linux-arm64 single file not built (see above)" >&2 ;;
  *) echo "usage: ./build.sh pack | single-file [RID...] | all | install" >&2; exit 2 ;;
esac
