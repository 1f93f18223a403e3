#!/usr/bin/env bash
# A fleet of clusters: N mock processes (the seed families, plain HTTP, one loopback port each)
# listed in one config file, then
#   - N sequential runs, one per target (`run --config fleet.toml --target-name tI`), as a team
#     without --all-targets would script it;
#   - `run --all-targets --parallel-targets P` for each P in PARALLEL;
#   - 4 shards (`--all-targets --shard K/4`, one process each, one after the other, as 4 CI jobs
#     would run them on 4 machines) merged with `report merge`, and their verdicts compared with
#     those of the unsharded run (every target, endpoint and check).
# Wall time and peak RSS of the harness come from /usr/bin/time -v. Prints a Markdown table and
# the merged report's summary; exits 1 if the merged verdicts differ from the unsharded ones.
#
#   bench/fleet.sh                     # N=20, PARALLEL="1 4 8", seed 1
#   N=10 PARALLEL=4 bench/fleet.sh
#   BIN=/path/to/ontap-conform bench/fleet.sh
#   ARGS="--cases 8" bench/fleet.sh    # extra run flags for every run
#
# Needs /usr/bin/time (Debian: apt-get install -y time) and python3. Builds the release binary
# (into $CARGO_TARGET_DIR or target/) unless BIN is given.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-20}
PARALLEL=${PARALLEL:-"1 4 8"}
SEED=${SEED:-1}
read -r -a EXTRA <<<"${ARGS:-}"
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: apt-get install -y time" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is missing" >&2; exit 2; }

if [ -z "${BIN:-}" ]; then
    echo "== building the release binary" >&2
    cargo build --release --quiet --bin ontap-conform
    BIN=${CARGO_TARGET_DIR:-target}/release/ontap-conform
fi
BIN=$(realpath "$BIN")

. bench/lib.sh

echo "== starting $N mock processes" >&2
for i in $(seq 1 "$N"); do
    "$BIN" mock --plain-http --listen 127.0.0.1:0 >"$TMP/mock$i.out" 2>&1 &
    PIDS+=($!)
done
{
    echo "seed = $SEED"
    for i in $(seq 1 "$N"); do
        URL=$(mock_url "$TMP/mock$i.out" 30)
        printf '\n[[targets]]\nname = "t%02d"\nurl = "%s"\n' "$i" "$URL"
    done
} >"$TMP/fleet.toml"

export ONTAP_PASSWORD='netapp1!' XDG_STATE_HOME="$TMP/state" NO_COLOR=1
cd "$TMP"

# Wall seconds and peak RSS (MB) of one command, from /usr/bin/time -v; its exit code is kept
# in $TMP/code (a fleet with a failing target exits non-zero, which is not an error here).
measure() {
    local out=$1
    shift
    set +e
    /usr/bin/time -v -o "$out" "$@" >/dev/null 2>>"$TMP/stderr.log"
    echo $? >"$TMP/code"
    set -e
}
wall_s() { awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$1"; }
rss_mb() { awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$1"; }

echo "| what | processes | wall | peak RSS (one process) |"
echo "|---|---:|---:|---:|"

echo "== $N sequential runs" >&2
SEQ_WALL=0
SEQ_RSS=0
for i in $(seq 1 "$N"); do
    NAME=$(printf 't%02d' "$i")
    measure "seq$i.time" "$BIN" run --config fleet.toml --target-name "$NAME" -q --no-progress \
        "${EXTRA[@]}" --report "json=seq-$NAME.json"
    SEQ_WALL=$(awk -v a="$SEQ_WALL" -v b="$(wall_s "seq$i.time")" 'BEGIN { printf "%.2f", a + b }')
    R=$(rss_mb "seq$i.time")
    [ "$R" -gt "$SEQ_RSS" ] && SEQ_RSS=$R
done
echo "| $N sequential runs, one per target | $N | ${SEQ_WALL} s | ${SEQ_RSS} MB |"

for P in $PARALLEL; do
    echo "== --all-targets --parallel-targets $P" >&2
    measure "fleet$P.time" "$BIN" run --config fleet.toml --all-targets --parallel-targets "$P" -q \
        "${EXTRA[@]}" --report "json=fleet-$P.json"
    echo "| \`run --all-targets --parallel-targets $P\` | 1 | $(wall_s "fleet$P.time") s | $(rss_mb "fleet$P.time") MB |"
done

echo "== 4 shards, then report merge" >&2
SH_WALL=0
SH_RSS=0
for K in 1 2 3 4; do
    measure "shard$K.time" "$BIN" run --config fleet.toml --all-targets --shard "$K/4" -q \
        "${EXTRA[@]}" --report "json=shard-$K.json"
    SH_WALL=$(awk -v a="$SH_WALL" -v b="$(wall_s "shard$K.time")" 'BEGIN { printf "%.2f", a + b }')
    R=$(rss_mb "shard$K.time")
    [ "$R" -gt "$SH_RSS" ] && SH_RSS=$R
done
echo "| 4 shards (\`--shard K/4\`), one after the other | 4 | ${SH_WALL} s | ${SH_RSS} MB |"
measure merge.time "$BIN" report merge merged.json merged.xml merged.html -- shard-1.json shard-2.json shard-3.json shard-4.json
echo "| \`report merge\` of the 4 shards | 1 | $(wall_s merge.time) s | $(rss_mb merge.time) MB |"

FIRST=$(echo "$PARALLEL" | awk '{ print $1 }')
echo
"$BIN" report merge merged-again.json -- shard-1.json shard-2.json shard-3.json shard-4.json 2>/dev/null || true
python3 - "fleet-$FIRST.json" merged.json <<'EOF'
import json, sys
def verdicts(path):
    d = json.load(open(path))
    return {(t["name"], r["endpoint"], r["check"]): r["verdict"]
            for t in d["targets"] for r in t["report"]["results"]}
a, b = verdicts(sys.argv[1]), verdicts(sys.argv[2])
same = a == b
print(f"\nverdicts: unsharded {len(a)}, 4 shards merged {len(b)}: {'identical' if same else 'DIFFERENT'}")
if not same:
    diff = [k for k in set(a) | set(b) if a.get(k) != b.get(k)]
    print("first differences:", sorted(diff)[:5])
    sys.exit(1)
EOF
