#!/usr/bin/env bash
# Veritee's verifier beside Phala dcap-qvl (wasm and JS) on the same quote and collateral, one thread each,
# alternating runs; prints the median of each and the ratios. Usage: bench/verify-vs-dcap-qvl.sh [CASE] [SECONDS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
case_id=${1:-sgx-v3-processorca-confsw-2025-07}
seconds=${2:-5}
runs=${3:-3}
dir=tests/vectors/dcap/cases/$case_id
at=$(python3 -c "import json;print(json.load(open('$dir/case.json'))['verification_time']['unix'])")
dotnet build -c Release src/Veritee.Cli -v q -nologo >/dev/null
tools/install-test-prereqs.sh >/dev/null  # the npm peers, stamped so the tests accept them
veritee() { dotnet src/Veritee.Cli/bin/Release/net10.0/veritee.dll "$@"; }
declare -A all
for ((i = 0; i < runs; i++)); do
  all[cold]+="$(veritee bench verify "$dir/quote.bin" --collateral "$dir" --at "$at" --seconds "$seconds" --cold --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["opsPerSecond"])') "
  all[warm]+="$(veritee bench verify "$dir/quote.bin" --collateral "$dir" --at "$at" --seconds "$seconds" --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["opsPerSecond"])') "
  all[web]+="$(cd tests/compat/dcap-qvl && node bench.mjs --case "../../../$dir" --seconds "$seconds" --impl web --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["opsPerSecond"])') "
  all[js]+="$(cd tests/compat/dcap-qvl && node bench.mjs --case "../../../$dir" --seconds "$seconds" --impl js --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["opsPerSecond"])') "
done
python3 - "$case_id" "${all[cold]}" "${all[warm]}" "${all[web]}" "${all[js]}" <<'PY'
import statistics, sys, os, platform
case, *series = sys.argv[1:]
names = ["veritee cold", "veritee warm", "dcap-qvl-web", "dcap-qvl-js"]
med = {n: statistics.median(float(x) for x in s.split()) for n, s in zip(names, series)}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"case {case}; {os.cpu_count()} CPUs, {cpu}; median of runs, ops/s, one thread")
for n, s in zip(names, series):
    print(f"  {n:14} {med[n]:10.1f}   runs: {s.strip()}")
print(f"  cold / dcap-qvl-web = {med['veritee cold'] / med['dcap-qvl-web']:.2f}x; cold / dcap-qvl-js = {med['veritee cold'] / med['dcap-qvl-js']:.2f}x")
PY
