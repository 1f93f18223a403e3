#!/usr/bin/env bash
# Feeds the OpenAPI 3.1 document of `ontap-conform spec openapi` to two generic tools, the way a
# user would: Stoplight Prism (serves a mock from it) and Schemathesis (fuzzes an API described by
# it, here the Prism mock). Passes when Prism serves the documented answers and Schemathesis loads
# the document and tests every operation without errors. See docs/openapi-tools.md.
#
# Needs python3 (venv), npm and network access to PyPI and npm. The tools are installed under
# $TOOLS_DIR (default target/openapi-tools), not globally; a second run reuses them.
# Bounded in time: Prism gets 60 s to start, each Schemathesis run at most 120 s.
# Not part of .ci/run: installing the tools alone takes longer than the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=${TOOLS_DIR:-target/openapi-tools}
mkdir -p "$TOOLS"
TOOLS=$(cd "$TOOLS" && pwd)
DOC="$TOOLS/ontap.json"
PORT=${PRISM_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
BASE="http://127.0.0.1:$PORT"

echo "== install (PyPI: schemathesis, npm: @stoplight/prism-cli) into $TOOLS"
if [ ! -x "$TOOLS/venv/bin/schemathesis" ]; then
    python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install --quiet schemathesis
fi
if [ ! -x "$TOOLS/npm/node_modules/.bin/prism" ]; then
    npm install --silent --no-fund --no-audit --prefix "$TOOLS/npm" @stoplight/prism-cli
fi
ST="$TOOLS/venv/bin/schemathesis"
PRISM="$TOOLS/npm/node_modules/.bin/prism"
echo "schemathesis $("$ST" --version | awk '{print $NF}'), prism $("$PRISM" --version)"

echo "== write the document"
cargo run --quiet -- spec openapi -o "$DOC"
echo "$DOC"

echo "== prism mock on $BASE"
"$PRISM" mock "$DOC" --host 127.0.0.1 --port "$PORT" > "$TOOLS/prism.log" 2>&1 &
PRISM_PID=$!
stop() { kill "$PRISM_PID" 2>/dev/null || true; wait "$PRISM_PID" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq 1 120); do
    grep -q "Prism is listening" "$TOOLS/prism.log" && break
    kill -0 "$PRISM_PID" 2>/dev/null || { cat "$TOOLS/prism.log"; echo "FAIL: prism exited"; exit 1; }
    sleep 0.5
done
grep -q "Prism is listening" "$TOOLS/prism.log" || { cat "$TOOLS/prism.log"; echo "FAIL: prism did not start in 60 s"; exit 1; }

failed=0
expect() { # expect STATUS DESCRIPTION curl-args...
    local want=$1 what=$2; shift 2
    local got
    got=$(curl -s -o "$TOOLS/body" -w '%{http_code}' --max-time 10 "$@")
    if [ "$got" = "$want" ]; then
        echo "ok   $got  $what"
    else
        echo "FAIL $got (expected $want)  $what: $(head -c 300 "$TOOLS/body")"
        failed=1
    fi
}
expect 200 "GET the login messages collection" -u admin:x "$BASE/api/security/login/messages"
expect 200 "GET one TOTP profile (dotted path keys)" -u admin:x "$BASE/api/security/login/totps/02c9e252-41be-11e9-81d5-00a0986138f7/joe"
expect 200 "GET one Duo profile" -u admin:x "$BASE/api/security/authentication/duo/profiles/02c9e252-41be-11e9-81d5-00a0986138f7"
expect 401 "GET without credentials" "$BASE/api/security/login/messages"
expect 405 "DELETE on login messages (not in the catalog)" -u admin:x -X DELETE "$BASE/api/security/login/messages/x"
expect 422 "PATCH a banner that is not a string" -u admin:x -X PATCH -H 'Content-Type: application/json' -d '{"banner": 5}' "$BASE/api/security/login/messages/x"
expect 422 "return_timeout=500 (max 120)" -u admin:x "$BASE/api/security/login/messages?return_timeout=500"
curl -s --max-time 10 -u admin:x "$BASE/api/security/login/totps/o/joe"; echo

echo "== schemathesis: the document's own checks against the Prism mock (verdict)"
# Schemathesis keeps a .schemathesis/ directory in its working directory: run it in $TOOLS.
if ! (cd "$TOOLS" && timeout 120 "$ST" run "$DOC" --url "$BASE" --auth admin:x --max-examples 5 --seed 1 \
    --phases examples,coverage,fuzzing \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance \
    --no-color > "$TOOLS/schemathesis.log" 2>&1); then
    cat "$TOOLS/schemathesis.log"
    echo "FAIL: schemathesis"
    failed=1
else
    sed -n '1,12p;/SUMMARY/,$p' "$TOOLS/schemathesis.log"
fi

echo "== schemathesis: every default check (informational; what it finds are Prism's shortcuts)"
(cd "$TOOLS" && timeout 120 "$ST" run "$DOC" --url "$BASE" --auth admin:x --max-examples 5 --seed 1 \
    --phases fuzzing --no-color > "$TOOLS/schemathesis-all.log" 2>&1) || true
sed -n '/^Failures:/,/^Test cases:/p' "$TOOLS/schemathesis-all.log"

if [ "$failed" = 0 ]; then echo "PASS"; else echo "FAIL"; exit 1; fi
