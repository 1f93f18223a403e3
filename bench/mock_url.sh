# Sourced by the benchmarks (bench/lib.sh sources it).
#
# mock_url FILE SECONDS [PID]: prints the URL a server (a mock) wrote to FILE, waiting up to SECONDS for it
# (a mock of 100,000 SVMs takes 35 to 45 s to start on two cores, longer when they are busy).
# If the time runs out or the mock (PID) exits first, says so with the mock's output and fails:
# a bare `URL=$(grep … | head -1)` under pipefail ended the script without a word.
mock_url() {
    local file=$1 secs=$2 pid=${3:-} url=
    for _ in $(seq 1 $((secs * 5))); do
        url=$(grep -o 'http://[0-9.:]*' "$file" 2>/dev/null | head -1 || true)
        [ -n "$url" ] && { echo "$url"; return 0; }
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            echo "the mock exited before it printed its URL:" >&2
            cat "$file" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "the mock printed no URL within $secs s (raise the wait, or see if the machine is busy):" >&2
    cat "$file" >&2
    return 1
}
