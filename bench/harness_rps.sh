#!/usr/bin/env bash
# Is generation and checking the bottleneck? Requests per second that the harness sends with a large
# --cases (read-only property checks, every answer parsed and judged), beside what a plain load
# generator (wrk) gets from the same mock endpoint, in one run on this machine. Both use the same
# number of connections; the mock runs as its own process over plain HTTP in both measurements.
# The goal: the harness sends at least half as many requests per second as wrk gets.
#
#   bench/harness_rps.sh                     # --cases 3000, 8 connections, wrk for 10 s
#   CASES=10000 CONNS=16 bench/harness_rps.sh
#
# Needs wrk (Debian: apt-get install -y wrk), curl and python3. Builds the release binary first.
set -euo pipefail
cd "$(dirname "$0")/.."

CASES=${CASES:-3000}
CONNS=${CONNS:-8}
DURATION=${DURATION:-10s}
PATH_Q='/api/security/login/messages?fields=*'

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }

echo "== building the release binary"
cargo build --release --quiet --bin ontap-conform
BIN=target/release/ontap-conform

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# The mock stops by itself after 5 minutes even if this script is killed.
timeout 300 "$BIN" mock --plain-http --listen 127.0.0.1:0 >"$TMP/mock.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do grep -qo 'http://[0-9.:]*' "$TMP/mock.out" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$TMP/mock.out" | head -1)
[ -n "$URL" ] || { cat "$TMP/mock.out" >&2; exit 1; }

echo "== wrk -t2 -c$CONNS -d$DURATION $URL$PATH_Q"
AUTH="Authorization: Basic $(printf '%s' 'admin:netapp1!' | base64)"
wrk -t2 -c"$CONNS" -d"$DURATION" -H "$AUTH" "$URL$PATH_Q" | tee "$TMP/wrk.txt"

echo "== ontap-conform run --read-only --cases $CASES --concurrency $CONNS (query-filter, field-selection, not-found)"
ONTAP_PASSWORD='netapp1!' "$BIN" run --target "$URL" --user admin --password-env ONTAP_PASSWORD \
    --read-only --no-progress --seed 1 --cases "$CASES" --concurrency "$CONNS" \
    --check query-filter --check field-selection --check not-found \
    --report json="$TMP/report.json" >"$TMP/run.txt" || { tail -20 "$TMP/run.txt"; exit 1; }
tail -2 "$TMP/run.txt"

W=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk.txt")
H=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['figures']['requests_per_second'])" "$TMP/report.json")
echo
printf 'wrk (plain load generator): %10.0f requests/s\n' "$W"
printf 'ontap-conform run:          %10.0f requests/s\n' "$H"
awk -v h="$H" -v w="$W" 'BEGIN { r = h / w; printf "ratio harness/wrk:          %10.2f (goal >= 0.50): %s\n", r, (r >= 0.5 ? "met" : "NOT met") }'
