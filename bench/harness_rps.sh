#!/usr/bin/env bash
# Is generation and checking the bottleneck? Requests per second that the harness sends with a large
# --cases (read-only property checks, every answer parsed and judged), beside what a plain load
# generator (wrk, 2 threads) gets from the same mock endpoint, on this machine. Both use the same
# number of connections; the mock runs as its own process over plain HTTP in both measurements,
# and the harness runs with its default --threads. The two alternate for ROUNDS rounds, so that
# load from anything else on the machine falls on both alike, and the medians are compared.
# The goal: the harness sends at least half as many requests per second as wrk gets.
#
#   bench/harness_rps.sh                     # --cases 10000, 8 connections, wrk 10 s, 3 rounds
#   CASES=3000 CONNS=16 ROUNDS=5 bench/harness_rps.sh
#   THREADS=2 bench/harness_rps.sh           # the harness with --threads 2 instead of its default
#   BIN=/path/to/ontap-conform bench/harness_rps.sh   # another build (e.g. an older commit's)
#
# Needs wrk (Debian: apt-get install -y wrk), curl and python3. Builds the release binary unless BIN
# is given.
set -euo pipefail
cd "$(dirname "$0")/.."

CASES=${CASES:-10000}
CONNS=${CONNS:-8}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
THREADS_ARG=()
[ -n "${THREADS:-}" ] && THREADS_ARG=(--threads "$THREADS")
PATH_Q='/api/security/login/messages?fields=*'

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }

if [ -z "${BIN:-}" ]; then
    echo "== building the release binary"
    cargo build --release --quiet --bin ontap-conform
    BIN=target/release/ontap-conform
fi

. bench/lib.sh

# The mock stops by itself after 5 minutes even if this script is killed.
timeout 300 "$BIN" mock --plain-http --listen 127.0.0.1:0 >"$TMP/mock.out" 2>&1 &
PIDS+=($!)
URL=$(mock_url "$TMP/mock.out" 30 "${PIDS[-1]}")

AUTH="Authorization: Basic $(printf '%s' 'admin:netapp1!' | base64)"
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "== $ROUNDS rounds: wrk -t2 -c$CONNS -d$DURATION $PATH_Q, then"
echo "   ontap-conform run --read-only --cases $CASES --concurrency $CONNS (query-filter, field-selection, not-found)"
: >"$TMP/wrk.all"
: >"$TMP/harness.all"
for r in $(seq 1 "$ROUNDS"); do
    wrk -t2 -c"$CONNS" -d"$DURATION" -H "$AUTH" "$URL$PATH_Q" >"$TMP/wrk.txt"
    W=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk.txt")
    ONTAP_PASSWORD='netapp1!' "$BIN" run --target "$URL" --user admin --password-env ONTAP_PASSWORD \
        --read-only --no-progress --seed 1 --cases "$CASES" --concurrency "$CONNS" "${THREADS_ARG[@]}" \
        --check query-filter --check field-selection --check not-found \
        --report json="$TMP/report.json" >"$TMP/run.txt" || { tail -20 "$TMP/run.txt"; exit 1; }
    H=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['figures']['requests_per_second'])" "$TMP/report.json")
    echo "$W" >>"$TMP/wrk.all"
    echo "$H" >>"$TMP/harness.all"
    printf 'round %d: wrk %10.0f req/s   harness %10.0f req/s   ratio %.2f   (%s)\n' "$r" "$W" "$H" \
        "$(awk -v h="$H" -v w="$W" 'BEGIN { print h / w }')" "$(tail -1 "$TMP/run.txt" | cut -d';' -f1)"
done

W=$(median <"$TMP/wrk.all")
H=$(median <"$TMP/harness.all")
echo
printf 'wrk (plain load generator): %10.0f requests/s (median)\n' "$W"
printf 'ontap-conform run:          %10.0f requests/s (median)\n' "$H"
awk -v h="$H" -v w="$W" 'BEGIN { r = h / w; printf "ratio harness/wrk:          %10.2f (goal >= 0.50): %s\n", r, (r >= 0.5 ? "met" : "NOT met") }'
