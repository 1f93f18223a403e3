# Sourced by the benchmarks: a temporary directory $TMP and the background processes in $PIDS,
# both gone when the script exits however it ends.
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

. bench/mock_url.sh
