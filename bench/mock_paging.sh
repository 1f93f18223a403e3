#!/usr/bin/env bash
# The cost of a paged walk through the reference mock at two data-set sizes: the mock serves the
# built-in data set plus N generated SVMs (`mock --svms N`: five accounts each), and one
# keep-alive client (python3 http.client) follows `_links.next` through a collection with
# `max_records=M` from the first page to the last. Walked: the accounts discovery collection
# (`/api/security/accounts`), the TOTP family in store order, and the TOTP family with a filter
# and `order_by` (`enabled=true&order_by=owner.uuid desc`: half of them, in reverse). Prints, per walk, the records and
# pages, the whole walk's time and the mean time of a page (ms, as the client sees it). A mock
# that resumes each page where the last ended costs the same per page at both sizes (the walk
# grows linearly with N); one that lists, filters and sorts the whole family for every page
# costs per page in proportion to N (the walk grows with N²/M).
#
#   bench/mock_paging.sh                        # N = 10000 and 100000, M = 500
#   SIZES="1000 10000" MAX_RECORDS=1000 bench/mock_paging.sh
#   BIN=/path/to/ontap-conform bench/mock_paging.sh   # another build (e.g. an older commit's)
#   PAGES=40 bench/mock_paging.sh               # stop each walk after this many pages (a slow
#                                               # mock's walk of 100,000 SVMs takes minutes)
#
# Needs python3. Builds the release binary unless BIN is given.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"10000 100000"}
MAX_RECORDS=${MAX_RECORDS:-500}
PAGES=${PAGES:-0}
command -v python3 >/dev/null || { echo "python3 is missing" >&2; exit 2; }

if [ -z "${BIN:-}" ]; then
    echo "== building the release binary" >&2
    cargo build --release --quiet --bin ontap-conform
    BIN=${CARGO_TARGET_DIR:-target}/release/ontap-conform
fi

source bench/lib.sh

cat >"$TMP/walk.py" <<'EOF'
import base64, http.client, json, sys, time
from urllib.parse import urlsplit, quote

url, n, m, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
u = urlsplit(url)
conn = http.client.HTTPConnection(u.hostname, u.port)
auth = {"Authorization": "Basic " + base64.b64encode(b"admin:netapp1!").decode()}

def walk(label, first):
    path, pages, records, times = first, 0, 0, []
    while path:
        t = time.perf_counter()
        conn.request("GET", path, headers=auth)
        r = conn.getresponse()
        data = r.read()
        times.append(time.perf_counter() - t)
        if r.status != 200:
            sys.exit(f"GET {path}: {r.status} {data[:300]!r}")
        body = json.loads(data)
        pages += 1
        records += body["num_records"]
        path = body.get("_links", {}).get("next", {}).get("href")
        if limit and pages >= limit:
            break
    whole = sum(times)
    print(f"| {n:,} | {label} | {records:,} | {pages} | {whole:.2f} s | {whole / pages * 1000:.2f} ms |")

walk("accounts", f"/api/security/accounts?max_records={m}")
walk("TOTP", f"/api/security/login/totps?fields=comment&max_records={m}")
walk("TOTP, filter + order_by", "/api/security/login/totps?enabled=true&order_by="
     + quote("owner.uuid desc") + f"&max_records={m}")
EOF

printf '| SVMs | walk (max_records=%s) | records | pages | walk | per page |\n' "$MAX_RECORDS"
printf '|---:|---|---:|---:|---:|---:|\n'
for N in $SIZES; do
    "$BIN" mock --plain-http --listen 127.0.0.1:0 --svms "$N" >"$TMP/mock-$N.out" 2>&1 &
    PIDS+=($!)
    URL=$(mock_url "$TMP/mock-$N.out" 300 "${PIDS[-1]}")
    python3 "$TMP/walk.py" "$URL" "$N" "$MAX_RECORDS" "$PAGES"
    kill "${PIDS[-1]}" 2>/dev/null || true
    wait "${PIDS[-1]}" 2>/dev/null || true
done
