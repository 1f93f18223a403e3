#!/usr/bin/env bash
# Feeds the OpenAPI 3.1 document of `ontap-conform spec openapi` to Schemathesis, the way a user
# would, against the built-in reference mock: every check, every phase (examples, coverage,
# fuzzing, stateful), a fixed seed. Passes when Schemathesis tests all operations and reports no
# failure caused by the document. See docs/openapi-tools.md.
#
# Needs Schemathesis $ST_VERSION importable by python3 (`scripts/test` provisions it; or
# `python3 -m pip install schemathesis==$ST_VERSION`); fails, and says so, without it.
# tests/openapi_tools.rs runs this script, so `cargo test` runs Schemathesis.
#
# Environment:
#   ONTAP_CONFORM_BIN  the binary to use (default: `cargo build --release`, target/release/...)
#   ST_MAX_EXAMPLES    examples per operation and phase (default 100)
#   ST_SEED            Schemathesis seed (default 1)
#   OUT_DIR            where the document, logs and reports go (default target/openapi-tools)
#   OPENAPI_DOC        judge this document instead of the export (the test proves with a
#                      loosened copy that the script fails on a document's fault)
#   WITH_PRISM=1       also serve the document with Stoplight Prism (npm) and probe it
set -euo pipefail
cd "$(dirname "$0")/.."

ST_VERSION=4.32.5
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-100}
SEED=${ST_SEED:-1}
OUT=${OUT_DIR:-target/openapi-tools}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DOC="$OUT/ontap.json"

# Schemathesis through its console entry point, so a pip install outside PATH works too.
# Bounded in time: at most 10 minutes.
st() {
    timeout 600 python3 - "$@" <<'PY'
import sys
from importlib.metadata import entry_points
eps = [e for e in entry_points(group="console_scripts") if e.name == "schemathesis"]
sys.argv[0] = "schemathesis"
sys.exit(eps[0].load()())
PY
}

echo "== schemathesis $ST_VERSION"
have=$(python3 -c 'from importlib.metadata import version; print(version("schemathesis"))' 2>/dev/null || true)
if [ -z "$have" ]; then
    echo "FAIL: schemathesis is not installed for $(command -v python3 || echo python3);"
    echo "      install it with: python3 -m pip install schemathesis==$ST_VERSION (scripts/test provisions it)"
    exit 1
fi
if [ "$have" != "$ST_VERSION" ]; then
    echo "FAIL: schemathesis $have is installed, this script is pinned to $ST_VERSION"
    echo "      (its checks and output change between releases): python3 -m pip install schemathesis==$ST_VERSION"
    exit 1
fi
echo "schemathesis $have"

if [ -n "${ONTAP_CONFORM_BIN:-}" ]; then
    BIN=$ONTAP_CONFORM_BIN
else
    cargo build --release --quiet
    BIN=target/release/ontap-conform
fi

if [ -n "${OPENAPI_DOC:-}" ]; then
    echo "== the document given in OPENAPI_DOC"
    cp "$OPENAPI_DOC" "$DOC"
else
    echo "== write the document"
    "$BIN" spec openapi -o "$DOC"
fi
echo "$DOC"

echo "== the built-in mock (plain HTTP, a free port)"
"$BIN" mock --plain-http --listen 127.0.0.1:0 > "$OUT/mock.log" 2>&1 &
MOCK_PID=$!
PRISM_PID=
stop() {
    kill "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
    if [ -n "$PRISM_PID" ]; then
        kill "$PRISM_PID" 2>/dev/null || true
        wait "$PRISM_PID" 2>/dev/null || true
    fi
}
trap stop EXIT
URL=
for _ in $(seq 1 100); do
    URL=$(grep -o 'listening on http://[0-9.:]*' "$OUT/mock.log" | head -1 | sed 's/^listening on //') || true
    [ -n "$URL" ] && break
    kill -0 "$MOCK_PID" 2>/dev/null || { cat "$OUT/mock.log"; echo "FAIL: the mock exited"; exit 1; }
    sleep 0.1
done
[ -n "$URL" ] || { cat "$OUT/mock.log"; echo "FAIL: the mock did not start in 10 s"; exit 1; }
echo "$URL"

echo "== schemathesis run: all checks, all phases, seed $SEED, $MAX_EXAMPLES examples"
# Schemathesis keeps a .schemathesis/ directory in its working directory: run it in $OUT.
rm -f "$OUT/schemathesis.json"
set +e
(cd "$OUT" && st run "$DOC" --url "$URL" --auth 'admin:netapp1!' \
    --checks all --phases examples,coverage,fuzzing,stateful \
    --max-examples "$MAX_EXAMPLES" --seed "$SEED" --generation-database none --no-color \
    --report json --report-json-path "$OUT/schemathesis.json" > "$OUT/schemathesis.log" 2>&1)
st_status=$?
set -e
sed -n '/^=* SUMMARY =*$/,$p' "$OUT/schemathesis.log"

# The verdict: every operation tested, and no failure at all (the export and the mock agree).
python3 - "$OUT/schemathesis.log" "$OUT/schemathesis.json" "$DOC" "$st_status" <<'PY'
import json, re, sys

log_path, report_path, doc_path, status = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
try:
    report = json.load(open(report_path))
except (OSError, ValueError) as e:
    print(open(log_path).read())
    sys.exit(f"FAIL: schemathesis wrote no JSON report ({e}); exit status {status}")
doc = json.load(open(doc_path))
ops = report["operations"]
if ops["tested"] != ops["total"] or ops["errored"] or report["errors"]:
    print(open(log_path).read())
    sys.exit(f"FAIL: schemathesis tested {ops['tested']} of {ops['total']} operations "
             f"({ops['errored']} errored, errors: {report['errors']})")

# The text log holds one section per operation; each failure starts with "- STnnn".
log = open(log_path).read()
failures = log.split("=== FAILURES ===", 1)[1].split("=== WARNINGS ===")[0].split("=== SUMMARY ===")[0] \
    if "=== FAILURES ===" in log else ""
ours = []
operation = "?"
for block in re.split(r"\n(?=_{3,} .+ _{3,}\n)", failures):
    head = re.match(r"_{3,} (.+?) _{3,}\n", block)
    if head:
        operation = head.group(1)
    for item in re.split(r"\n(?=- ST\d+ )", block)[1:]:
        code = item[2:7]
        line = f"{code} {operation}: {item.splitlines()[0][8:]}"
        ours.append((line, None, item))
counted = sum(f["count"] for f in report["failures"])
if counted != len(ours):
    print(log)
    sys.exit(f"FAIL: the report counts {counted} failures, the log shows {len(ours)}")
for line, _, item in ours:
    print(f"FAILURE: {line}\n{item}")
tc = report["test_cases"]
print(f"{ops['tested']}/{ops['total']} operations, {tc['generated']} test cases, {counted} failures")
if ours:
    sys.exit("FAIL: schemathesis found failures")
PY

if [ "${WITH_PRISM:-0}" = 1 ]; then
    echo "== prism mock (npm @stoplight/prism-cli under $OUT/npm)"
    if [ ! -x "$OUT/npm/node_modules/.bin/prism" ]; then
        npm install --silent --no-fund --no-audit --prefix "$OUT/npm" @stoplight/prism-cli
    fi
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$OUT/npm/node_modules/.bin/prism" mock "$DOC" --host 127.0.0.1 --port "$PORT" > "$OUT/prism.log" 2>&1 &
    PRISM_PID=$!
    for _ in $(seq 1 120); do
        grep -q "Prism is listening" "$OUT/prism.log" && break
        sleep 0.5
    done
    grep -q "Prism is listening" "$OUT/prism.log" || { cat "$OUT/prism.log"; echo "FAIL: prism did not start"; exit 1; }
    failed=0
    expect() { # expect STATUS DESCRIPTION curl-args...
        local want=$1 what=$2; shift 2
        local got
        got=$(curl -s -o "$OUT/body" -w '%{http_code}' --max-time 10 "$@")
        if [ "$got" = "$want" ]; then echo "ok   $got  $what"; else
            echo "FAIL $got (expected $want)  $what: $(head -c 300 "$OUT/body")"; failed=1; fi
    }
    B="http://127.0.0.1:$PORT"
    expect 200 "GET the login messages collection" -u admin:x "$B/api/security/login/messages"
    expect 200 "a filter in ONTAP's syntax (scope=!svm)" -u admin:x "$B/api/security/login/messages?scope=!svm"
    expect 200 "fields=banner,svm.name" -u admin:x "$B/api/security/login/messages?fields=banner,svm.name"
    expect 422 "fields=nosuch" -u admin:x "$B/api/security/login/messages?fields=nosuch"
    expect 422 "PATCH with owner (PATCH-forbidden)" -u admin:x -X PATCH -H 'Content-Type: application/json' -d '{"owner": {"name": "x"}}' "$B/api/security/authentication/duo/profiles/u"
    expect 401 "GET without credentials" "$B/api/security/login/messages"
    [ "$failed" = 0 ] || { echo "FAIL: prism"; exit 1; }
fi
echo "PASS"
