#!/usr/bin/env bash
# The harness against large clusters: the mock serves the built-in data set plus N generated SVMs
# (`mock --svms N`: a login message each, five accounts, TOTP for two, a Duo profile for about
# half), and `run --allow-destructive --seed 1` goes through it. Prints one row per N: the records
# served, the requests sent, the harness's wall time (its own figure), its CPU time (user + system),
# and the peak RSS of the harness and of the mock (from /usr/bin/time -v).
#
#   bench/scale.sh                          # N = 0 1000 3000 10000
#   SIZES="0 1000" bench/scale.sh
#   SIZES="10000 100000" BIN=/work/target-scale/release/ontap-conform bench/scale.sh   # issue 23's sizes
#   BIN=/path/to/ontap-conform bench/scale.sh    # another build (e.g. an older commit's)
#   RUN_TIMEOUT=600 bench/scale.sh               # give up on a run after this many seconds
#   HARNESS_BIN=... MOCK_BIN=... bench/scale.sh  # the harness of one build against the mock of another
#   ARGS="--sample 64" bench/scale.sh            # extra run flags
#   MOCK_DATA='--fixtures /tmp/scale-{N}.json' bench/scale.sh   # how the mock gets its data set
#                                                 # ({N} is replaced; for a build without --svms)
#
# Needs /usr/bin/time (Debian: apt-get install -y time) and python3. Builds the release binary
# unless BIN (or both HARNESS_BIN and MOCK_BIN) is given.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"0 1000 3000 10000"}
read -r -a EXTRA <<<"${ARGS:-}"
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: apt-get install -y time" >&2; exit 2; }

if [ -z "${BIN:-}" ] && { [ -z "${HARNESS_BIN:-}" ] || [ -z "${MOCK_BIN:-}" ]; }; then
    echo "== building the release binary" >&2
    cargo build --release --quiet --bin ontap-conform
    BIN=target/release/ontap-conform
fi
HARNESS_BIN=${HARNESS_BIN:-$BIN}
MOCK_BIN=${MOCK_BIN:-$BIN}

. bench/mock_url.sh
TMP=$(mktemp -d)
MOCK_PID=
cleanup() {
    if [ -n "$MOCK_PID" ]; then kill "$(pgrep -P "$MOCK_PID")" "$MOCK_PID" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

rss_mb() { awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$1"; }
cpu_s() { awk -F': ' '/User time|System time/ { t += $2 } END { printf "%.2f", t }' "$1"; }

printf '| SVMs | records (messages / duo / totp / accounts) | requests | wall | harness CPU | harness peak RSS | mock peak RSS |\n'
printf '|---:|---|---:|---:|---:|---:|---:|\n'
for N in $SIZES; do
    rm -f "$TMP/mock.out" "$TMP/report.json"
    DATA=${MOCK_DATA:-'--svms {N}'}
    read -r -a DATA_ARGS <<<"${DATA//\{N\}/$N}"
    /usr/bin/time -v -o "$TMP/mock.time" "$MOCK_BIN" mock --plain-http --listen 127.0.0.1:0 \
        "${DATA_ARGS[@]}" >"$TMP/mock.out" 2>&1 &
    MOCK_PID=$!
    URL=$(mock_url "$TMP/mock.out" 300 "$MOCK_PID")
    COUNTS=$(curl -s -u 'admin:netapp1!' "$URL/api/security/login/messages?return_records=false" \
        "$URL/api/security/authentication/duo/profiles?return_records=false" \
        "$URL/api/security/login/totps?return_records=false" \
        "$URL/api/security/accounts?return_records=false" |
        python3 -c '
import json, sys
dec, s, i, out = json.JSONDecoder(), sys.stdin.read(), 0, []
while i < len(s):
    o, i = dec.raw_decode(s, i)
    out.append("{:,}".format(o["num_records"]))
print(" / ".join(out))')
    set +e
    ONTAP_PASSWORD='netapp1!' /usr/bin/time -v -o "$TMP/run.time" timeout -s INT "${RUN_TIMEOUT:-900}" "$HARNESS_BIN" run --target "$URL" \
        --user admin --password-env ONTAP_PASSWORD --allow-destructive --seed 1 --no-progress \
        --journal "$TMP/journal.json" --report json="$TMP/report.json" "${EXTRA[@]}" >"$TMP/run.out" 2>&1
    RC=$?
    set -e
    # SIGTERM to the mock itself (the child of time), so that time reports its peak RSS.
    kill -TERM "$(pgrep -P "$MOCK_PID")" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
    MOCK_PID=
    if [ ! -s "$TMP/report.json" ]; then
        echo "N=$N: the run wrote no report (exit $RC):" >&2
        tail -20 "$TMP/run.out" >&2
        exit 1
    fi
    read -r REQ WALL < <(python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["figures"]; print(f["requests"], f["wall_seconds"])' "$TMP/report.json")
    printf '| %s | %s | %s | %.2f s | %s s | %s MB | %s MB |\n' "$N" "$COUNTS" "$(printf "%'d" "$REQ")" "$WALL" \
        "$(cpu_s "$TMP/run.time")" "$(rss_mb "$TMP/run.time")" "$(rss_mb "$TMP/mock.time")"
    [ "$RC" -le 1 ] || echo "   (N=$N: run exit $RC: $(tail -1 "$TMP/run.out"))" >&2
    cp "$TMP/report.json" "${KEEP_REPORTS:-$TMP}/scale-$N.json" 2>/dev/null || true
done
