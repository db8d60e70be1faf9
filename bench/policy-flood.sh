#!/usr/bin/env bash
# Policy flood (issue 10, closing note): while two clients send worst-case draft policies (2^n claim doubling, and
# string doubling with the 1.2 AppendString), measure a legitimate client's attestation p50 against its baseline and
# the service's peak RSS. Targets: p50 within 2x of the baseline, peak RSS under 512 MB.
#
#   bench/policy-flood.sh                       # build (Release), baseline, 30 s of flood, report
#   FLOOD_SECONDS=10 NO_BUILD=1 bench/policy-flood.sh
#
# Settings (environment): FLOOD_SECONDS (30), BASELINE_SECONDS (10), FLOOD_CONCURRENCY (1: requests in flight per
# flood client), DOUBLINGS (24), NO_BUILD (1: use the existing src/Veritee.Cli/bin/Release build), KEEP (1: keep the
# work folder with the logs).
#
# Exit 0 when both targets are met, 1 when one is missed, 2 when the run could not be set up. The service and the
# clients it starts are stopped on exit. Traffic stays on 127.0.0.1. The clients run on the same machine as the
# service and share its CPU.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FLOOD_SECONDS="${FLOOD_SECONDS:-30}"
BASELINE_SECONDS="${BASELINE_SECONDS:-10}"
FLOOD_CONCURRENCY="${FLOOD_CONCURRENCY:-1}"
DOUBLINGS="${DOUBLINGS:-24}"
NO_BUILD="${NO_BUILD:-0}"
KEEP="${KEEP:-0}"

WORK="$(mktemp -d /tmp/veritee-policy-flood.XXXXXX)"
SERVE_PID=""
FLOOD_PIDS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 2; }

cleanup() {
  local pid
  for pid in "${FLOOD_PIDS[@]}" "$SERVE_PID"; do
    [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  if [[ "$KEEP" == 1 ]]; then log "work folder kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

if [[ "$NO_BUILD" != 1 ]]; then
  log "building src/Veritee.Cli (Release)"
  dotnet build "$ROOT/src/Veritee.Cli" -c Release -v q -nologo >"$WORK/build.log" 2>&1 || { tail -20 "$WORK/build.log"; die "build failed"; }
fi

# A copy of the build, so a rebuild while this runs cannot affect it.
cp -r "$ROOT/src/Veritee.Cli/bin/Release/net10.0" "$WORK/bin"
veritee() { dotnet "$WORK/bin/veritee.dll" "$@"; }

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"

veritee platform init --platform "$WORK/platform" >"$WORK/platform.log" 2>&1 || die "platform init failed"
veritee genquote --simulate --platform "$WORK/platform" --out "$WORK/quotes" >"$WORK/genquote.log" 2>&1 || die "genquote failed"
QUOTE="$WORK/quotes/enclave.info.release.json"

python3 - "$WORK" "$DOUBLINGS" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
rule = '  c:[type=="x-ms-sgx-mrsigner"] => add(type="x-ms-sgx-mrsigner", value=c.value);\n'
open(f"{work}/doubling.txt", "w").write("version=1.0;\nauthorizationrules { => permit(); };\nissuancerules {\n" + rule * n + "};\n")
rules = ['  => add(type="s0", value="0123456789abcdef");\n']
rules += [f'  c:[type=="s{i}"] => add(type="s{i + 1}", value=AppendString(c.value, c.value));\n' for i in range(40)]
open(f"{work}/string-doubling.txt", "w").write("version=1.2;\nauthorizationrules { => permit(); };\nissuancerules {\n" + "".join(rules) + "};\n")
PY

log "starting veritee serve on $URL"
dotnet "$WORK/bin/veritee.dll" serve --urls "$URL" --data "$WORK/data" --simulation --platform "$WORK/platform" \
  --log-level warning --admin-token flood-bench >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "$URL/health/ready" >/dev/null 2>&1 && break
  kill -0 "$SERVE_PID" 2>/dev/null || { cat "$WORK/serve.log"; die "serve exited"; }
  sleep 0.2
done
curl -fsS "$URL/health/ready" >/dev/null || die "serve did not become ready"

log "baseline: one legitimate client, ${BASELINE_SECONDS} s"
veritee bench attest "$URL" --quote "$QUOTE" --concurrency 1 --seconds "$BASELINE_SECONDS" --json >"$WORK/baseline.json"
RSS_BEFORE="$(awk '/^VmRSS/ {print $2}' "/proc/$SERVE_PID/status")"

log "flood: two clients with worst-case drafts (${FLOOD_CONCURRENCY} in flight each) for ${FLOOD_SECONDS} s, legitimate client alongside"
veritee bench attest "$URL" --quote "$QUOTE" --draft-policy "$WORK/doubling.txt" --any-status \
  --concurrency "$FLOOD_CONCURRENCY" --seconds "$FLOOD_SECONDS" --json >"$WORK/flood-doubling.json" &
FLOOD_PIDS+=($!)
veritee bench attest "$URL" --quote "$QUOTE" --draft-policy "$WORK/string-doubling.txt" --any-status \
  --concurrency "$FLOOD_CONCURRENCY" --seconds "$FLOOD_SECONDS" --json >"$WORK/flood-string.json" &
FLOOD_PIDS+=($!)
sleep 3 # let the flood clients reach full speed (they warm up for 2 s)
veritee bench attest "$URL" --quote "$QUOTE" --concurrency 1 --seconds "$((FLOOD_SECONDS - 6))" --json >"$WORK/during.json"
for pid in "${FLOOD_PIDS[@]}"; do wait "$pid" || true; done
FLOOD_PIDS=()

# Control: the same two clients sending ordinary attestations (no draft), to tell policy cost from CPU sharing.
log "control: two clients with ordinary attestations for ${FLOOD_SECONDS} s, legitimate client alongside"
for name in control-1 control-2; do
  veritee bench attest "$URL" --quote "$QUOTE" --concurrency "$FLOOD_CONCURRENCY" --seconds "$FLOOD_SECONDS" --json >"$WORK/$name.json" &
  FLOOD_PIDS+=($!)
done
sleep 3
veritee bench attest "$URL" --quote "$QUOTE" --concurrency 1 --seconds "$((FLOOD_SECONDS - 6))" --json >"$WORK/control.json"
for pid in "${FLOOD_PIDS[@]}"; do wait "$pid" || true; done
FLOOD_PIDS=()

RSS_PEAK="$(awk '/^VmHWM/ {print $2}' "/proc/$SERVE_PID/status")"
RSS_AFTER="$(awk '/^VmRSS/ {print $2}' "/proc/$SERVE_PID/status")"

python3 - "$WORK" "$RSS_BEFORE" "$RSS_PEAK" "$RSS_AFTER" <<'PY'
import json, sys
work, before, peak, after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
load = lambda name: json.load(open(f"{work}/{name}.json"))
base, during, dbl, s = load("baseline"), load("during"), load("flood-doubling"), load("flood-string")
ratio = during["p50Ms"] / base["p50Ms"] if base["p50Ms"] else float("inf")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
cores = sum(1 for l in open("/proc/cpuinfo") if l.startswith("processor"))
print(f"cpu: {cpu} ({cores} logical cores)")
print(f"baseline:  p50 {base['p50Ms']:.2f} ms, p99 {base['p99Ms']:.2f} ms, {base['requestsPerSecond']} req/s, {base['errors']} errors")
print(f"during:    p50 {during['p50Ms']:.2f} ms, p99 {during['p99Ms']:.2f} ms, {during['requestsPerSecond']} req/s, {during['errors']} errors")
print(f"flood:     doubling {dbl['requests']} requests ({dbl['refused']} refused, {dbl['errors']} errors, p50 {dbl['p50Ms']:.2f} ms); "
      f"string doubling {s['requests']} requests ({s['refused']} refused, {s['errors']} errors, p50 {s['p50Ms']:.2f} ms)")
print(f"load:      {open('/proc/loadavg').read().split()[0]} (1-minute load average at the end; other work on the machine counts)")
control = load("control")
print(f"control:   p50 {control['p50Ms']:.2f} ms alongside two clients sending ordinary attestations (ratio {control['p50Ms'] / base['p50Ms']:.2f}): the share of the slowdown that is CPU sharing, not policy work")
print(f"p50 ratio: {ratio:.2f} (target <= 2)")
print(f"RSS:       {before / 1024:.0f} MB before the flood, peak {peak / 1024:.0f} MB (target < 512), {after / 1024:.0f} MB after")
ok = ratio <= 2 and peak < 512 * 1024 and during["errors"] == 0 and dbl["errors"] == 0 and s["errors"] == 0
print("verdict:  ", "targets met" if ok else "target missed")
sys.exit(0 if ok else 1)
PY
