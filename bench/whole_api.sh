#!/usr/bin/env bash
# The whole API of each shipped release against the built-in mock serving it (records made from
# the contract), default mode (an imported contract reads only): one row per release with the
# paths, the checks passed / failed / warned, the requests, the wall time, the CPU (user + sys)
# and the peak RSS of the one process (harness and mock share it), from /usr/bin/time.
#
#   bench/whole_api.sh                         # ontap-9.6 ... ontap-9.19
#   RELEASES="ontap-9.19" bench/whole_api.sh
#   BIN=/path/to/ontap-conform bench/whole_api.sh
#
# Needs /usr/bin/time (Debian: apt-get install -y time). Builds the release binary unless BIN is
# given.
set -euo pipefail
cd "$(dirname "$0")/.."
RELEASES=${RELEASES:-"ontap-9.6 ontap-9.7 ontap-9.8 ontap-9.9 ontap-9.10 ontap-9.12 ontap-9.13 ontap-9.14 ontap-9.15 ontap-9.16 ontap-9.17 ontap-9.18 ontap-9.19"}
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: apt-get install -y time" >&2; exit 2; }
if [ -z "${BIN:-}" ]; then
    echo "== building the release binary" >&2
    cargo build --release --quiet --bin ontap-conform
    BIN=target/release/ontap-conform
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "| contract | paths | passed / failed / warnings | requests | wall | CPU (user+sys) | peak RSS |"
echo "|---|---:|---|---:|---:|---:|---:|"
for r in $RELEASES; do
    status=0
    /usr/bin/time -f "%e %U %S %M" -o "$out/time" "$BIN" run --contract "$r" --seed 1 --no-progress \
        > "$out/stdout" 2> "$out/stderr" || status=$?
    read -r wall user sys rss < <(tail -1 "$out/time")
    paths=$(grep -m1 -oE '^[0-9]+ paths, worst first' "$out/stdout" | cut -d' ' -f1 || true)
    counts=$(grep -m1 -oE '^[0-9]+ passed, [0-9]+ failed, [0-9]+ warnings' "$out/stdout" \
        | sed -E 's/([0-9]+) passed, ([0-9]+) failed, ([0-9]+) warnings/\1 \/ \2 \/ \3/')
    requests=$(grep -m1 -oE '^[0-9]+ requests' "$out/stdout" | cut -d' ' -f1)
    cpu=$(python3 -c "print(f'{$user + $sys:.2f}')")
    echo "| $r | ${paths:-?} | $counts (exit $status) | $requests | $wall s | $cpu s | $((rss / 1024)) MB |"
done
