#!/usr/bin/env bash
# Requests per second of the reference mock for GET /api/security/login/messages?fields=* under a
# loopback load generator (wrk), beside a trivial axum handler sending the same bytes, on the same
# machine in the same run. Both servers speak plain HTTP (the mock with --plain-http) so TLS does
# not blur the comparison. The goal: the mock gets at least half of the trivial handler's figure.
#
#   bench/mock_rps.sh                       # 2 wrk threads, 32 connections, 10 s per run, 3 rounds
#   DURATION=30s CONNS=64 ROUNDS=5 bench/mock_rps.sh
#
# Needs wrk (Debian: apt-get install -y wrk) and curl. Builds the release binaries first.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-3}
LOAD=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
PATH_Q='/api/security/login/messages?fields=*'

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is missing" >&2; exit 2; }

echo "== building release binaries"
cargo build --release --quiet --bin ontap-conform --example trivial_server
BIN=target/release/ontap-conform
TRIVIAL=target/release/examples/trivial_server

. bench/lib.sh

# Both servers stop by themselves after 15 minutes even if this script is killed.
timeout 900 "$BIN" mock --plain-http --listen 127.0.0.1:0 >"$TMP/mock.out" 2>&1 &
PIDS+=($!)
MOCK_URL=$(mock_url "$TMP/mock.out" 10 "${PIDS[-1]}")

curl -sf -u 'admin:netapp1!' "$MOCK_URL$PATH_Q" >"$TMP/body.json"
timeout 900 "$TRIVIAL" --listen 127.0.0.1:0 --body "$TMP/body.json" >"$TMP/trivial.out" 2>&1 &
PIDS+=($!)
TRIVIAL_URL=$(mock_url "$TMP/trivial.out" 10 "${PIDS[-1]}")

AUTH="Authorization: Basic $(printf '%s' 'admin:netapp1!' | base64)"

run_wrk() { # name url round -> prints requests/s
    local out="$TMP/$1.$3.txt"
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -H "$AUTH" "$2$PATH_Q" >"$out"
    if grep -q 'Non-2xx' "$out"; then
        echo "$1 answered errors under load:" >&2
        cat "$out" >&2
        exit 1
    fi
    awk '/Requests\/sec/ {print $2}' "$out"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Alternate the two servers for ROUNDS rounds, so that load from anything else on the machine
# falls on both alike; report the medians.
echo "== wrk -t$THREADS -c$CONNS -d$DURATION $PATH_Q, $ROUNDS rounds, alternating"
: >"$TMP/trivial.all"
: >"$TMP/mock.all"
for r in $(seq 1 "$ROUNDS"); do
    t=$(run_wrk trivial "$TRIVIAL_URL" "$r")
    m=$(run_wrk mock "$MOCK_URL" "$r")
    echo "$t" >>"$TMP/trivial.all"
    echo "$m" >>"$TMP/mock.all"
    printf 'round %d: trivial %10.0f req/s   mock %10.0f req/s   ratio %.2f\n' "$r" "$t" "$m" "$(awk -v m="$m" -v t="$t" 'BEGIN { print m / t }')"
done

T=$(median <"$TMP/trivial.all")
M=$(median <"$TMP/mock.all")
echo
echo "body: $(wc -c <"$TMP/body.json") bytes, $(nproc) CPUs, load average before: $LOAD"
printf 'trivial axum handler: %12.0f requests/s (median)\n' "$T"
printf 'ontap-conform mock:   %12.0f requests/s (median)\n' "$M"
awk -v m="$M" -v t="$T" 'BEGIN { r = m / t; printf "ratio mock/trivial:   %12.2f (goal >= 0.50): %s\n", r, (r >= 0.5 ? "met" : "NOT met") }'
