#!/usr/bin/env bash
# Coverage-guided fuzzing of one Veritee target with AFL++ and SharpFuzz, bounded in time.
#
#   fuzz/run.sh TARGET SECONDS     e.g. fuzz/run.sh quote 60
#   fuzz/run.sh list               the targets
#
# Installs what is missing (afl++ from Debian, the SharpFuzz.CommandLine tool from fuzz/dotnet-tools.json), builds the
# harness into a temporary folder, instruments the Veritee assemblies there, runs afl-fuzz for SECONDS starting from
# fuzz/corpus/TARGET, then copies new crashing or hanging inputs into fuzz/crashes/TARGET/ and new-coverage queue
# entries into fuzz/corpus/TARGET/ (at most FUZZ_KEEP of them, each at most FUZZ_KEEP_MAX_BYTES).
# Environment: FUZZ_TIMEOUT_MS (per-input timeout, default 2000), FUZZ_KEEP (default 20),
# FUZZ_KEEP_MAX_BYTES (default 65536), FUZZ_WORK (keep the work folder there instead of a temporary one).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

target=${1:-}
seconds=${2:-60}
if [ -z "$target" ]; then
  echo "usage: fuzz/run.sh TARGET SECONDS | list" >&2
  exit 2
fi

work=${FUZZ_WORK:-$(mktemp -d /tmp/veritee-fuzz.XXXXXX)}
mkdir -p "$work"
echo "== building the harness (Release) into $work/bin"
dotnet build fuzz/Veritee.Fuzz/Veritee.Fuzz.csproj -c Release -o "$work/bin" -v quiet -nologo >"$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2; exit 1; }
harness=("dotnet" "$work/bin/Veritee.Fuzz.dll")

if [ "$target" = "list" ]; then
  "${harness[@]}" list
  exit 0
fi
if [ "$target" != selftest ] && ! "${harness[@]}" list | awk '{print $1}' | grep -qx -- "$target"; then
  echo "unknown target '$target'; targets:" >&2
  "${harness[@]}" list >&2
  exit 2
fi
case "$seconds" in ''|*[!0-9]*) echo "SECONDS must be a whole number" >&2; exit 2 ;; esac

if ! command -v afl-fuzz >/dev/null; then
  echo "== installing afl++ (Debian package)"
  apt-get update -qq && apt-get install -y -qq afl++ >/dev/null
fi

echo "== SharpFuzz.CommandLine (local tool, fuzz/dotnet-tools.json)"
(cd fuzz && dotnet tool restore >/dev/null)

echo "== instrumenting the Veritee assemblies"
for assembly in Veritee.Sgx Veritee.Dcap Veritee.Policy Veritee.Tokens; do
  (cd fuzz && dotnet sharpfuzz "$work/bin/$assembly.dll") >/dev/null
done

seeds="$work/seeds"
rm -rf "$seeds" "$work/out"
mkdir -p "$seeds"
if [ "$target" = selftest ]; then
  # The tooling check: afl-fuzz must find the crash (inputs starting "Z"); nothing is saved into fuzz/.
  printf 'AAAA' >"$seeds/seed"
  out="$work/selftest"
else
  out=fuzz
  cp fuzz/corpus/"$target"/* "$seeds"/
fi

echo "== afl-fuzz $target for ${seconds}s"
# The harness is a managed program: afl-fuzz cannot see compile-time instrumentation (SKIP_BIN_CHECK); SharpFuzz's
# fork server reports the IL-level coverage of the instrumented assemblies through AFL's shared memory.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_FORKSRV_INIT_TMOUT=60000 AFL_NO_AFFINITY=1 AFL_SHUFFLE_QUEUE=1
export VERITEE_REPO="$repo"
afl-fuzz -V "$seconds" -t "${FUZZ_TIMEOUT_MS:-2000}" -m none -i "$seeds" -o "$work/out" -- "${harness[@]}" "$target" \
  >"$work/afl.log" 2>&1 || { tail -40 "$work/afl.log" >&2; echo "afl-fuzz failed (log: $work/afl.log)" >&2; exit 1; }

stats="$work/out/default/fuzzer_stats"
field() { sed -nE "s/^$1 +: (.*)/\1/p" "$stats"; }
echo "== results ($stats)"
for f in run_time execs_done execs_per_sec corpus_count corpus_found edges_found total_edges bitmap_cvg saved_crashes saved_hangs; do
  printf '  %-14s %s\n' "$f" "$(field "$f")"
done

# New crashing and hanging inputs, named by content hash so reruns do not duplicate them.
found=0
for kind in crashes hangs; do
  for f in "$work/out/default/$kind"/id:*; do
    [ -e "$f" ] || continue
    mkdir -p "$out/crashes/$target"
    if [ "$kind" = crashes ]; then prefix=crash; else prefix=hang; fi
    name="$prefix-$(sha1sum "$f" | cut -c1-16)"
    if [ ! -e "$out/crashes/$target/$name" ]; then
      cp "$f" "$out/crashes/$target/$name"
      echo "  new $kind input: $out/crashes/$target/$name"
      found=$((found + 1))
    fi
  done
done

# Queue entries that reached new edges (+cov), smallest first, capped in number and size.
kept=0
while IFS= read -r f; do
  [ "$kept" -lt "${FUZZ_KEEP:-20}" ] || break
  name="afl-$(sha1sum "$f" | cut -c1-16)"
  mkdir -p "$out/corpus/$target"
  if [ ! -e "$out/corpus/$target/$name" ]; then
    cp "$f" "$out/corpus/$target/$name"
    kept=$((kept + 1))
  fi
done < <(find "$work/out/default/queue" -maxdepth 1 -type f -name 'id:*+cov*' -size -"${FUZZ_KEEP_MAX_BYTES:-65536}"c -printf '%s %p\n' | sort -n | cut -d' ' -f2-)
echo "  kept $kept new corpus entries in $out/corpus/$target, $found new crashing/hanging inputs in $out/crashes/$target"
echo "  replay: dotnet $work/bin/Veritee.Fuzz.dll $target --replay $out/crashes/$target"
[ -n "${FUZZ_WORK:-}" ] || echo "  (work folder kept: $work)"
