#!/usr/bin/env bash
# Runs Intel's PCCS and `veritee serve --pccs lazy` side by side against one fake PCS on loopback, diffs their answers
# (diff.py) and measures cached collateral requests/s and p99 on both (load.cs). Developer tool, not CI: Intel's PCCS
# is fetched and installed outside the repository and never committed (tools/pccs-oracle/README.md).
# Usage: tools/pccs-oracle/run.sh INTEL_PCCS_SERVICE_DIR [CONCURRENCY] [SECONDS]
set -euo pipefail
INTEL_DIR=$(cd "$1" && pwd)
CONCURRENCY=${2:-32}
SECONDS_EACH=${3:-10}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/pccs-oracle.XXXXXX)
PCS_PORT=18080 INTEL_PORT=18081 VERITEE_PORT=18082
USER_TOKEN=oracle-user ADMIN_TOKEN=oracle-admin
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

python3 "$REPO/tools/pccs-oracle/fake_pcs.py" $PCS_PORT > "$WORK/pcs.log" 2>&1 & PIDS+=($!)

# Intel's PCCS: its own copy of the install folder, config overrides in production.json, its own SQLite file.
cp -r "$INTEL_DIR" "$WORK/intel"
mkdir -p "$WORK/intel/ssl_key" && cp "$WORK/key.pem" "$WORK/intel/ssl_key/private.pem" && cp "$WORK/cert.pem" "$WORK/intel/ssl_key/file.crt"
cat > "$WORK/intel/config/production.json" <<JSON
{ "HTTPS_PORT": $INTEL_PORT, "hosts": "127.0.0.1", "uri": "http://127.0.0.1:$PCS_PORT/sgx/certification/v4/", "ApiKey": "",
  "UserTokenHash": "$(printf %s $USER_TOKEN | sha512sum | cut -d' ' -f1)", "AdminTokenHash": "$(printf %s $ADMIN_TOKEN | sha512sum | cut -d' ' -f1)",
  "CachingFillMode": "LAZY", "LogLevel": "error", "DB_CONFIG": "sqlite",
  "sqlite": { "options": { "dialect": "sqlite", "define": { "freezeTableName": true }, "logging": false, "storage": "$WORK/intel.db" } } }
JSON
(cd "$WORK/intel" && NODE_ENV=production exec node pccs_server.js > "$WORK/intel.log" 2>&1) & PIDS+=($!)

# Veritee, built from this checkout, same TLS certificate, same fake PCS; no per-client rate limit for the load test.
dotnet build "$REPO/src/Veritee.Cli" -c Release -v q -nologo > /dev/null
dotnet "$REPO/src/Veritee.Cli/bin/Release/net10.0/veritee.dll" serve --urls https://127.0.0.1:$VERITEE_PORT \
  --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" --data "$WORK/veritee" --log-level warning --rate-limit 0 \
  --collateral-service http://127.0.0.1:$PCS_PORT --root-ca-crl http://127.0.0.1:$PCS_PORT/rootcrl.der --pccs lazy \
  --pccs-user-token-hash "$(printf %s $USER_TOKEN | sha512sum)" --pccs-admin-token-hash "$(printf %s $ADMIN_TOKEN | sha512sum)" \
  > "$WORK/veritee.log" 2>&1 & PIDS+=($!)

for port in $INTEL_PORT $VERITEE_PORT; do
  for _ in $(seq 1 120); do curl -sk -o /dev/null "https://127.0.0.1:$port/sgx/certification/v4/qe/identity" && break; sleep 0.5; done
done
# Both now hold the QE identity; start the comparison from otherwise empty caches.
python3 "$REPO/tools/pccs-oracle/diff.py" https://127.0.0.1:$INTEL_PORT https://127.0.0.1:$VERITEE_PORT $USER_TOKEN $ADMIN_TOKEN | tee "$WORK/diff.txt"

echo "load: $CONCURRENCY clients, $SECONDS_EACH s each, CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) ($(nproc) cores)"
TCB="/sgx/certification/v4/tcb?fmspc=00A067110000"
CERT="/sgx/certification/v4/pckcert?qeid=00112233445566778899aabbccddeeff&cpusvn=0b0b0202ff0100000000000000000000&pcesvn=0d00&pceid=0000"
for path in "$TCB" "$CERT"; do
  for name in intel:$INTEL_PORT veritee:$VERITEE_PORT; do
    echo -n "${name%%:*} "
    dotnet run "$REPO/tools/pccs-oracle/load.cs" -- "https://127.0.0.1:${name##*:}$path" "$CONCURRENCY" "$SECONDS_EACH"
  done
done
echo "logs and databases: $WORK"
