#!/usr/bin/env bash
# Cluster benchmark (issue 7, "Targets"): PostgreSQL, three `veritee serve` nodes and nginx on 127.0.0.1, one
# `veritee bench attest` run through nginx, RSS of every node sampled during the run, then a check that answers are
# right (tokens from nginx verified against its /certs, claims compared with the quote) and that no request failed.
#
#   bench/cluster-bench.sh                     # build (Release), start everything, 60 s at 16 in flight, report
#   BENCH_SECONDS=20 NO_BUILD=1 bench/cluster-bench.sh
#
# Settings (environment): BENCH_SECONDS (60), CONCURRENCY (16), NODES (3), SAMPLE_SECONDS (5, RSS sampling period),
# WARMUP_SECONDS (10, the RSS sample taken as "warm-up end"), RSS_LIMIT_PCT (10, the largest RSS growth after
# warm-up still called stable), CHECKS (6, attestations checked through nginx after the run), NO_BUILD (1: use the
# existing src/Veritee.Cli/bin/Release build), KEEP (1: keep the work folder with the logs).
#
# Exit 0 when the bench saw 0 errors, every checked answer was right and every node's RSS was stable; 1 otherwise;
# 2 when the cluster could not be set up. Everything it starts (PostgreSQL, nodes, nginx, the sampler) is stopped
# on exit, also on failure or Ctrl-C. Traffic stays on 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH_SECONDS="${BENCH_SECONDS:-60}"
CONCURRENCY="${CONCURRENCY:-16}"
NODES="${NODES:-3}"
SAMPLE_SECONDS="${SAMPLE_SECONDS:-5}"
WARMUP_SECONDS="${WARMUP_SECONDS:-10}"
RSS_LIMIT_PCT="${RSS_LIMIT_PCT:-10}"
CHECKS="${CHECKS:-6}"
NO_BUILD="${NO_BUILD:-0}"
KEEP="${KEEP:-0}"

WORK=""
PG_DIR=""
PG_BIN=""
AS_POSTGRES=0
NGINX_PID=""
SAMPLER_PID=""
BENCH_PID=""
NODE_PIDS=()
NODE_PORTS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 2; }

# Runs a PostgreSQL tool as the postgres user when we are root (the server refuses to run as root).
pg() {
  local tool="$1"; shift
  if [[ "$AS_POSTGRES" == 1 ]]; then
    runuser -u postgres -- "$PG_BIN/$tool" "$@"
  else
    "$PG_BIN/$tool" "$@"
  fi
}

stop_pid() { # stop_pid PID [grace seconds]: SIGTERM, then SIGKILL after the grace time.
  local pid="$1" grace="${2:-10}" i
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [[ -n "$SAMPLER_PID" ]]; then
    pkill -TERM -P "$SAMPLER_PID" 2>/dev/null
    stop_pid "$SAMPLER_PID" 2
  fi
  stop_pid "$BENCH_PID" 5
  if [[ "$rc" != 0 && -n "$WORK" && -d "$WORK" ]]; then
    for f in "$WORK"/node*.log "$WORK"/nginx-error.log "$PG_DIR"/server.log; do
      [[ -s "$f" ]] && { echo "---- last lines of $f" >&2; tail -n 20 "$f" >&2; }
    done
  fi
  stop_pid "$NGINX_PID" 10
  local pid
  for pid in "${NODE_PIDS[@]}"; do
    stop_pid "$pid" 15
  done
  if [[ -n "$PG_DIR" && -f "$PG_DIR/data/postmaster.pid" ]]; then
    pg pg_ctl -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
    if [[ -f "$PG_DIR/data/postmaster.pid" ]]; then
      pid="$(head -n 1 "$PG_DIR/data/postmaster.pid")"
      [[ "$pid" =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null
    fi
  fi
  if [[ "$KEEP" == 1 ]]; then
    log "kept $WORK and $PG_DIR"
  else
    [[ -n "$WORK" ]] && rm -rf "$WORK"
    [[ -n "$PG_DIR" ]] && rm -rf "$PG_DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local port
  while :; do
    port=$((20000 + RANDOM % 30000))
    ss -Htln "sport = :$port" | grep -q . || { echo "$port"; return; }
  done
}

# wait_http URL SECONDS [PID]: until URL answers 200 (and PID, when given, is alive).
wait_http() {
  local url="$1" limit="$2" pid="${3:-}" until=$((SECONDS + $2))
  while ((SECONDS < until)); do
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      return 1
    fi
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$url" || true)" == 200 ]] && return 0
    sleep 0.2
  done
  return 1
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
b64url_of_hex() { xxd -r -p | base64 -w 0 | tr '+/' '-_' | tr -d '='; }

for tool in dotnet nginx curl jq xxd runuser; do
  command -v "$tool" >/dev/null 2>&1 || { [[ "$tool" == runuser && "$(id -u)" != 0 ]] || die "$tool not found"; }
done
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[[ -x "$PG_BIN/initdb" ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)"
NGINX="$(command -v nginx)"

WORK="$(mktemp -d /tmp/veritee-cluster-bench.XXXXXX)"

# --- 1. Build the CLI (Release) and run a private copy, so that a rebuild meanwhile cannot change the nodes' files.
if [[ "$NO_BUILD" != 1 ]]; then
  log "building src/Veritee.Cli (Release)"
  dotnet build "$ROOT/src/Veritee.Cli" -c Release -nologo -v quiet >"$WORK/build.log" 2>&1 \
    || { tail -n 30 "$WORK/build.log" >&2; die "build failed"; }
fi
[[ -f "$ROOT/src/Veritee.Cli/bin/Release/net10.0/veritee.dll" ]] || die "src/Veritee.Cli/bin/Release/net10.0/veritee.dll not built"
cp -r "$ROOT/src/Veritee.Cli/bin/Release/net10.0" "$WORK/cli"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
veritee() { dotnet "$WORK/cli/veritee.dll" "$@"; }

# --- 2. A throwaway PostgreSQL cluster: trust authentication, 127.0.0.1 only, a free port.
PG_DIR="$(mktemp -d /tmp/veritee-cluster-bench-pg.XXXXXX)"
if [[ "$(id -u)" == 0 ]]; then
  AS_POSTGRES=1
  chown postgres "$PG_DIR"
fi
PG_PORT="$(free_port)"
log "PostgreSQL $(basename "$(dirname "$PG_BIN")") on 127.0.0.1:$PG_PORT"
pg initdb -D "$PG_DIR/data" -U postgres -A trust --no-sync -E UTF8 >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
# Same settings as the cluster tests (tests/TestSupport/PostgresServer.cs); attestations only read the store.
pg pg_ctl -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
  -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
  || die "PostgreSQL did not start"
pg createdb -h 127.0.0.1 -p "$PG_PORT" -U postgres veritee || die "createdb failed"
CONNECTION="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=veritee;Pooling=true;Timeout=10;Command Timeout=30"

# --- 3. Simulated platform and quote.
veritee platform init --platform "$WORK/platform" >"$WORK/platform.log" 2>&1 || { cat "$WORK/platform.log" >&2; die "platform init failed"; }
veritee genquote --simulate --out "$WORK/quotes" --platform "$WORK/platform" >"$WORK/genquote.log" 2>&1 || { cat "$WORK/genquote.log" >&2; die "genquote failed"; }
QUOTE="$WORK/quotes/enclave.info.release.json"

# --- 4. Nodes: one database, one instance URL (nginx), one admin token, one platform.
LB_PORT="$(free_port)"
LB_URL="http://127.0.0.1:$LB_PORT"
ADMIN_TOKEN="$(head -c 24 /dev/urandom | xxd -p -c 64)"
for ((i = 1; i <= NODES; i++)); do
  port="$(free_port)"
  NODE_PORTS+=("$port")
  mkdir -p "$WORK/node$i"
  dotnet "$WORK/cli/veritee.dll" serve --urls "http://127.0.0.1:$port" --data "$WORK/node$i" \
    --store postgres --connection-string "$CONNECTION" --instance-url "$LB_URL" \
    --simulation --platform "$WORK/platform" --admin-token "$ADMIN_TOKEN" \
    --trusted-proxy 127.0.0.1 --log-level warning \
    </dev/null >"$WORK/node$i.log" 2>&1 &
  NODE_PIDS+=("$!")
done
log "started $NODES nodes (ports ${NODE_PORTS[*]}, pids ${NODE_PIDS[*]}) on one empty database"
for ((i = 1; i <= NODES; i++)); do
  wait_http "http://127.0.0.1:${NODE_PORTS[i - 1]}/health/ready" 90 "${NODE_PIDS[i - 1]}" \
    || die "node $i (port ${NODE_PORTS[i - 1]}) not ready"
done
kids="$(for p in "${NODE_PORTS[@]}"; do curl -sf "http://127.0.0.1:$p/certs" | jq -c '[.keys[].kid]'; done | sort -u)"
[[ "$(wc -l <<<"$kids")" == 1 ]] || die "the nodes publish different keys: $kids"

# --- 5. nginx: round robin over the nodes, keep-alive connections to them, plain HTTP on 127.0.0.1.
mkdir -p "$WORK/nginx"
{
  echo "daemon off;"
  echo "master_process on;"
  echo "worker_processes 1;"
  echo "pid $WORK/nginx/nginx.pid;"
  echo "error_log $WORK/nginx-error.log warn;"
  echo "events { worker_connections 1024; }"
  echo "http {"
  echo "    access_log off;"
  for t in client_body proxy fastcgi uwsgi scgi; do echo "    ${t}_temp_path $WORK/nginx/$t;"; done
  echo "    upstream veritee {"
  for p in "${NODE_PORTS[@]}"; do echo "        server 127.0.0.1:$p max_fails=1 fail_timeout=2s;"; done
  echo "        keepalive 32;"
  echo "    }"
  echo "    server {"
  echo "        listen 127.0.0.1:$LB_PORT;"
  echo "        client_max_body_size 1m;"
  echo "        location / {"
  echo "            proxy_pass http://veritee;"
  echo "            proxy_http_version 1.1;"
  echo "            proxy_set_header Connection \"\";"
  echo "            proxy_set_header Host \$host;"
  echo "            proxy_set_header X-Forwarded-For \$remote_addr;"
  echo "            proxy_set_header X-Forwarded-Proto \$scheme;"
  echo "            proxy_next_upstream error timeout;"
  echo "            proxy_next_upstream_tries 3;"
  echo "            proxy_connect_timeout 2s;"
  echo "            proxy_read_timeout 30s;"
  echo "            add_header X-Veritee-Upstream \$upstream_addr always;"
  echo "        }"
  echo "    }"
  echo "}"
} >"$WORK/nginx.conf"
"$NGINX" -e "$WORK/nginx-error.log" -c "$WORK/nginx.conf" -p "$WORK/nginx/" </dev/null >"$WORK/nginx.out" 2>&1 &
NGINX_PID=$!
wait_http "$LB_URL/certs" 30 "$NGINX_PID" || die "nginx did not answer on $LB_URL"
log "nginx on $LB_URL (pid $NGINX_PID)"

# --- 6. The run, with RSS samples of every node every SAMPLE_SECONDS.
log "veritee bench attest $LB_URL --concurrency $CONCURRENCY --seconds $BENCH_SECONDS"
dotnet "$WORK/cli/veritee.dll" bench attest "$LB_URL" --quote "$QUOTE" --concurrency "$CONCURRENCY" --seconds "$BENCH_SECONDS" --json \
  </dev/null >"$WORK/bench.json" 2>"$WORK/bench.err" &
BENCH_PID=$!
START="$(date +%s.%N)"
(
  n=0
  while kill -0 "$BENCH_PID" 2>/dev/null; do
    n=$((n + 1))
    delay="$(awk -v s="$START" -v n="$n" -v p="$SAMPLE_SECONDS" -v now="$(date +%s.%N)" 'BEGIN { d = s + n * p - now; print (d > 0 ? d : 0) }')"
    sleep "$delay"
    kill -0 "$BENCH_PID" 2>/dev/null || break
    line="$((n * SAMPLE_SECONDS))"
    for pid in "${NODE_PIDS[@]}"; do line="$line $(rss_kb "$pid")"; done
    echo "$line"
  done
) >"$WORK/rss.txt" &
SAMPLER_PID=$!
bench_rc=0
wait "$BENCH_PID" || bench_rc=$?
BENCH_PID=""
wait "$SAMPLER_PID" || true
SAMPLER_PID=""
end_line="after"
for pid in "${NODE_PIDS[@]}"; do end_line="$end_line $(rss_kb "$pid")"; done

echo "== bench (veritee bench attest, exit $bench_rc)"
cat "$WORK/bench.json"
[[ -s "$WORK/bench.err" ]] && { echo "   stderr:"; sed 's/^/   /' "$WORK/bench.err"; }

# --- 7. Right answers: attest through nginx, verify each token against nginx's /certs and issuer, compare claims.
q_b64="$(jq -r .QuoteHex "$QUOTE" | b64url_of_hex)"
ehd_b64="$(jq -r .EnclaveHeldDataHex "$QUOTE" | b64url_of_hex)"
mre="$(jq -r .MrEnclaveHex "$QUOTE" | tr 'A-F' 'a-f')"
mrs="$(jq -r .MrSignerHex "$QUOTE" | tr 'A-F' 'a-f')"
jq -n --arg q "$q_b64" --arg d "$ehd_b64" '{quote: $q, runtimeData: {data: $d, dataType: "Binary"}}' >"$WORK/attest-body.json"
wrong=0
declare -A served=()
echo "== checks through nginx ($CHECKS attestations, each token verified with 'veritee token verify --endpoint $LB_URL')"
for ((i = 1; i <= CHECKS; i++)); do
  status="$(curl -s -D "$WORK/check$i.headers" -o "$WORK/check$i.json" -w '%{http_code}' --max-time 30 \
    -H 'Content-Type: application/json' --data-binary "@$WORK/attest-body.json" \
    "$LB_URL/attest/SgxEnclave?api-version=2022-08-01" || true)"
  upstream="$(awk -F': ' 'tolower($1) == "x-veritee-upstream" { gsub("\r", "", $2); print $2 }' "$WORK/check$i.headers")"
  served["$upstream"]=1
  token="$(jq -r '.token // empty' "$WORK/check$i.json" 2>/dev/null || true)"
  if [[ "$status" != 200 || -z "$token" ]]; then
    echo "  $i: WRONG: HTTP $status from ${upstream:-?}: $(head -c 300 "$WORK/check$i.json")"
    wrong=$((wrong + 1))
    continue
  fi
  verify_rc=0
  veritee token verify "$token" --endpoint "$LB_URL" --json >"$WORK/verify$i.json" 2>&1 || verify_rc=$?
  problems="$(jq -r --arg iss "$LB_URL" --arg mre "$mre" --arg mrs "$mrs" --arg ehd "$ehd_b64" '
      [ (if .valid != true then "invalid: \(.reason) \(.message)" else empty end),
        (if .claims.iss != $iss then "iss \(.claims.iss)" else empty end),
        (if ((.claims["x-ms-sgx-mrenclave"] // "") | ascii_downcase) != $mre then "mrenclave \(.claims["x-ms-sgx-mrenclave"])" else empty end),
        (if ((.claims["x-ms-sgx-mrsigner"] // "") | ascii_downcase) != $mrs then "mrsigner \(.claims["x-ms-sgx-mrsigner"])" else empty end),
        (if .claims["x-ms-sgx-ehd"] != $ehd then "ehd differs" else empty end),
        (if .claims["x-ms-sgx-is-debuggable"] != false then "is-debuggable \(.claims["x-ms-sgx-is-debuggable"])" else empty end)
      ] | join("; ")' "$WORK/verify$i.json" 2>/dev/null || echo "token verify output unreadable: $(head -c 300 "$WORK/verify$i.json")")"
  if [[ "$verify_rc" != 0 || -n "$problems" ]]; then
    echo "  $i: WRONG (served by $upstream, token verify exit $verify_rc): $problems"
    wrong=$((wrong + 1))
  else
    echo "  $i: ok (served by $upstream; signature, issuer, jku, MRENCLAVE, MRSIGNER, EHD, not debuggable)"
  fi
done
# The CLI's own end-to-end check as well: token against /certs and issuer, every enclave field of the file.
attest_rc=0
veritee attest "$QUOTE" --endpoint "$LB_URL" >"$WORK/attest.txt" 2>&1 || attest_rc=$?
if [[ "$attest_rc" == 0 ]]; then
  echo "  veritee attest $(basename "$QUOTE") --endpoint $LB_URL: every check passed"
else
  echo "  veritee attest: FAILED (exit $attest_rc)"; sed 's/^/    /' "$WORK/attest.txt"
  wrong=$((wrong + 1))
fi
echo "  nodes that answered the checks: ${!served[*]}"

# --- 8. RSS report and verdict.
echo "== RSS per node (VmRSS, MiB; samples every ${SAMPLE_SECONDS} s from the start of the bench process)"
rss_report="$(awk -v warm="$WARMUP_SECONDS" -v limit="$RSS_LIMIT_PCT" -v nodes="$NODES" -v ports="${NODE_PORTS[*]}" -v pids="${NODE_PIDS[*]}" -v after="$end_line" '
  { t[NR] = $1; for (i = 2; i <= NF; i++) v[NR, i - 1] = $i; rows = NR }
  END {
    if (rows == 0) { print "no samples"; print "VERDICT rss: unknown (no samples)"; exit }
    split(ports, port, " "); split(pids, pid, " "); split(after, a, " ")
    w = 1; for (r = 1; r <= rows; r++) if (t[r] <= warm) w = r
    e = rows; m = int((w + e + 1) / 2)
    printf "  %-34s", "node"; for (r = 1; r <= rows; r++) printf " %7s", t[r] "s"; printf " %7s\n", "after"
    for (n = 1; n <= nodes; n++) {
      printf "  %-34s", sprintf("node %d (127.0.0.1:%s, pid %s)", n, port[n], pid[n])
      for (r = 1; r <= rows; r++) printf " %7.1f", v[r, n] / 1024; printf " %7.1f\n", a[n + 1] / 1024
    }
    stable = 1; worst = -1e9
    for (n = 1; n <= nodes; n++) {
      peak = 0; for (r = w; r <= rows; r++) if (v[r, n] > peak) peak = v[r, n]
      g = v[w, n] > 0 ? (v[e, n] - v[w, n]) * 100 / v[w, n] : 1e9
      gp = v[w, n] > 0 ? (peak - v[w, n]) * 100 / v[w, n] : 1e9
      if (g > worst) worst = g
      if (g >= limit) stable = 0
      gm = v[m, n] > 0 ? (v[e, n] - v[m, n]) * 100 / v[m, n] : 1e9
      printf "  node %d: warm-up end (%ss) %.1f MiB, mid-run (%ss) %.1f MiB, end (%ss) %.1f MiB; growth after warm-up %+.1f%% (peak %+.1f%%), mid-run to end %+.1f%%\n", \
        n, t[w], v[w, n] / 1024, t[m], v[m, n] / 1024, t[e], v[e, n] / 1024, g, gp, gm
    }
    printf "VERDICT rss: %s (largest growth from warm-up end to end of run %+.1f%%, limit %s%%)\n", stable ? "stable" : "GROWING", worst, limit
  }' "$WORK/rss.txt")"
echo "$rss_report" | grep -v '^VERDICT'

# --- 9. Verdict.
requests="$(jq -r '.requests // 0' "$WORK/bench.json" 2>/dev/null || echo 0)"
errors="$(jq -r '.errors // "?"' "$WORK/bench.json" 2>/dev/null || echo '?')"
rss_verdict="$(echo "$rss_report" | grep '^VERDICT' | sed 's/^VERDICT rss: //')"
echo "== verdict"
echo "  machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "  bench: $(jq -r '"\(.requestsPerSecond) requests/s, p50 \(.p50Ms) ms, p99 \(.p99Ms) ms, \(.requests) requests, \(.errors) errors in \(.seconds) s"' "$WORK/bench.json" 2>/dev/null || echo 'no result')"
echo "  errors: $errors; wrong answers: $wrong of $((CHECKS + 1)) checks; RSS: $rss_verdict"
if [[ "$bench_rc" == 0 && "$errors" == 0 && "$requests" -gt 0 && "$wrong" == 0 && "$rss_verdict" == stable* ]]; then
  echo "PASS: zero errors, zero wrong answers, RSS stable after warm-up"
  exit 0
fi
echo "FAIL"
exit 1
