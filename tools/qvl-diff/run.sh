#!/usr/bin/env bash
# Differential run: N random SGX and N random TDX scenarios through Intel QVL (via our driver) and through Veritee;
# prints the disagreement rate per kind and category and the first disagreements. Not part of CI.
#
#   tools/qvl-diff/run.sh --qvl-include DIR --qvl-lib DIR [--count N] [--seed S] [--work DIR]
#
# --qvl-include: the folder holding SgxEcdsaAttestation/QuoteVerification.h of a QVL you have built yourself;
# --qvl-lib: the folder with its static libraries (libQuoteVerificationStatic.a, libAttestationParsersStatic.a,
# libAttestationCommonsStatic.a). Nothing of Intel's is kept in this repository. Needs g++ and libssl-dev.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
count=2000 seed=1 work="" include="" lib=""
while [ $# -gt 0 ]; do
  case "$1" in
    --qvl-include) include=$2; shift 2 ;;
    --qvl-lib) lib=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "qvl-diff: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$include" ] || [ -z "$lib" ] || [ ! -f "$include/SgxEcdsaAttestation/QuoteVerification.h" ] || [ ! -f "$lib/libQuoteVerificationStatic.a" ]; then
  echo "qvl-diff: --qvl-include must hold SgxEcdsaAttestation/QuoteVerification.h and --qvl-lib libQuoteVerificationStatic.a" >&2
  exit 2
fi
work=${work:-$(mktemp -d /tmp/qvl-diff.XXXXXX)}
mkdir -p "$work"
echo "qvl-diff: working in $work (count $count per kind, seed $seed)"

nice -n 10 g++ -std=c++17 -O1 -Wall -Wextra -I "$include" "$repo/tools/qvl-diff/driver/qvl_driver.cpp" -o "$work/qvl_driver" \
  -L "$lib" -lQuoteVerificationStatic -lAttestationParsersStatic -lAttestationCommonsStatic -lssl -lcrypto -lpthread
dotnet build "$repo/tools/qvl-diff/QvlDiff" -c Release -o "$work/qvl-diff-bin" -v quiet -nologo >/dev/null
diff="$work/qvl-diff-bin/QvlDiff"

rm -rf "$work/scenarios"
"$diff" generate sgx "$work/scenarios" "$count" "$seed"
"$diff" generate tdx "$work/scenarios" "$count" "$((seed + 1))"
find "$work/scenarios" -mindepth 1 -maxdepth 1 -type d | sort > "$work/dirs.txt"
"$work/qvl_driver" < "$work/dirs.txt" > "$work/qvl.txt"
"$diff" veritee < "$work/dirs.txt" > "$work/veritee.txt"
"$diff" compare "$work/qvl.txt" "$work/veritee.txt"
