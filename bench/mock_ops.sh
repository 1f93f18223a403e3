#!/usr/bin/env bash
# The cost of one instance operation of the reference mock at two data-set sizes: the mock serves
# the built-in data set plus N generated SVMs (`mock --svms N`; N = 10,000 gives 20,003 TOTP
# profiles), and one keep-alive client (python3 http.client) goes round K TOTP profiles spread
# over the family: GET the instance, PATCH its comment, DELETE it, GET it again (a 404, which names
# whether the owner exists, so it looks the owner up), POST it again (so the family keeps its size). Prints the mean and the median latency of each operation, in ms, as seen by the
# client (loopback, plain HTTP, one request at a time). A mock that looks records up by key costs
# the same at both sizes; one that scans or rebuilds per request grows with N.
#
#   bench/mock_ops.sh                          # N = 0 and 10000, 2000 cycles each, K = 100
#   SIZES="0 1000 10000" CYCLES=5000 bench/mock_ops.sh
#   BIN=/path/to/ontap-conform bench/mock_ops.sh   # another build (e.g. an older commit's)
#
# Needs python3 and curl. Builds the release binary unless BIN is given.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"0 10000"}
CYCLES=${CYCLES:-2000}
K=${K:-100}
command -v python3 >/dev/null || { echo "python3 is missing" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is missing" >&2; exit 2; }

if [ -z "${BIN:-}" ]; then
    echo "== building the release binary" >&2
    cargo build --release --quiet --bin ontap-conform
    BIN=target/release/ontap-conform
fi

. bench/mock_url.sh
TMP=$(mktemp -d)
MOCK_PID=
cleanup() {
    if [ -n "$MOCK_PID" ]; then kill "$MOCK_PID" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

cat >"$TMP/ops.py" <<'EOF'
import base64, http.client, json, statistics, sys, time
from urllib.parse import urlsplit

url, cycles, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
u = urlsplit(url)
conn = http.client.HTTPConnection(u.hostname, u.port)
auth = {"Authorization": "Basic " + base64.b64encode(b"admin:netapp1!").decode()}
coll = "/api/security/login/totps"

def call(method, path, body=None, want=None):
    headers = dict(auth)
    if body is not None:
        body = json.dumps(body)
        headers["Content-Type"] = "application/json"
    t = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    dt = time.perf_counter() - t
    if (r.status != want) if want else (r.status >= 300):
        sys.exit(f"{method} {path}: {r.status} {data[:300]!r}")
    return dt, data

_, data = call("GET", coll + "?fields=owner.uuid,account.name&max_records=1000000")
recs = json.loads(data)["records"]
n = len(recs)
keys = [(r["owner"]["uuid"], r["account"]["name"]) for r in recs[:: max(1, n // k)][:k]]
times = {"GET": [], "PATCH": [], "DELETE": [], "GET (deleted: 404)": [], "POST": []}
for c in range(cycles):
    owner, account = keys[c % len(keys)]
    inst = f"{coll}/{owner}/{account}"
    ops = [
        ("GET", "GET", inst, None, None),
        ("PATCH", "PATCH", inst, {"comment": f"cycle {c}"}, None),
        ("DELETE", "DELETE", inst, None, None),
        ("GET (deleted: 404)", "GET", inst, None, 404),
        ("POST", "POST", coll, {"owner": {"uuid": owner}, "account": {"name": account}}, None),
    ]
    for label, method, path, body, want in ops:
        dt, _ = call(method, path, body, want)
        times[label].append(dt * 1000)
for method, ts in times.items():
    print(f"| {n:,} | {method} | {statistics.mean(ts):.3f} | {statistics.median(ts):.3f} |")
EOF

printf '| TOTP records | operation | mean ms | median ms |\n'
printf '|---:|---|---:|---:|\n'
for N in $SIZES; do
    "$BIN" mock --plain-http --listen 127.0.0.1:0 --svms "$N" >"$TMP/mock.out" 2>&1 &
    MOCK_PID=$!
    URL=$(mock_url "$TMP/mock.out" 300 "$MOCK_PID")
    python3 "$TMP/ops.py" "$URL" "$CYCLES" "$K"
    kill "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
    MOCK_PID=
done
