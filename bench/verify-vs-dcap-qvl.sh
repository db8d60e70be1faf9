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
field() { python3 -c 'import json,sys;d=json.load(sys.stdin);print(str(d["opsPerSecond"])+"/"+str(d["opsPerCpuSecond"]))'; }
for ((i = 0; i < runs; i++)); do
  all[cold]+="$(veritee bench verify "$dir/quote.bin" --collateral "$dir" --at "$at" --seconds "$seconds" --cold --json | field) "
  all[warm]+="$(veritee bench verify "$dir/quote.bin" --collateral "$dir" --at "$at" --seconds "$seconds" --json | field) "
  all[web]+="$(cd tests/compat/dcap-qvl && node bench.mjs --case "../../../$dir" --seconds "$seconds" --impl web --json | field) "
  all[js]+="$(cd tests/compat/dcap-qvl && node bench.mjs --case "../../../$dir" --seconds "$seconds" --impl js --json | field) "
done
python3 - "$case_id" "${all[cold]}" "${all[warm]}" "${all[web]}" "${all[js]}" <<'PY'
import statistics, sys, os, platform
case, *series = sys.argv[1:]
names = ["veritee cold", "veritee warm", "dcap-qvl-web", "dcap-qvl-js"]
runs = {n: [tuple(float(v) for v in x.split("/")) for x in s.split()] for n, s in zip(names, series)}
wall = {n: statistics.median(r[0] for r in rs) for n, rs in runs.items()}
cpu = {n: statistics.median(r[1] for r in rs) for n, rs in runs.items()}
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"case {case}; {os.cpu_count()} CPUs, {model}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
print("median of runs, one thread: ops per wall second, ops per CPU second (process CPU time, robust to other load)")
for n in names:
    print(f"  {n:14} {wall[n]:10.1f} {cpu[n]:10.1f}   runs (wall/cpu): {' '.join(f'{a:.1f}/{b:.1f}' for a, b in runs[n])}")
best = max(("dcap-qvl-web", "dcap-qvl-js"), key=lambda n: cpu[n])
print(f"  cold / {best} (the faster peer per CPU second) = {cpu['veritee cold'] / cpu[best]:.2f}x per CPU second, {wall['veritee cold'] / wall[best]:.2f}x per wall second")
print(f"  cold / dcap-qvl-web = {cpu['veritee cold'] / cpu['dcap-qvl-web']:.2f}x; cold / dcap-qvl-js = {cpu['veritee cold'] / cpu['dcap-qvl-js']:.2f}x (per CPU second)")
PY
