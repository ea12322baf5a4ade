#!/usr/bin/env bash
# Starts the dev broker, the sandbox (Salesforce and NetSuite simulators) and ingest on localhost
# with a demo organization; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(swift build --show-bin-path)
mkdir -p var/dev-broker var/ingest var/sandbox
rm -f var/dev-broker/bootstrap var/sandbox/ports.json

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

"$bin/dev-broker" --bootstrap-file var/dev-broker/bootstrap &
pids+=($!)
for _ in $(seq 100); do [ -s var/dev-broker/bootstrap ] && break; sleep 0.1; done
[ -s var/dev-broker/bootstrap ] || { echo "dev-broker did not start" >&2; exit 1; }

"$bin/sandbox" --ports-file var/sandbox/ports.json &
pids+=($!)
for _ in $(seq 100); do [ -s var/sandbox/ports.json ] && break; sleep 0.1; done
[ -s var/sandbox/ports.json ] || { echo "sandbox did not start" >&2; exit 1; }

export KAFKA_BOOTSTRAP_SERVERS=$(cat var/dev-broker/bootstrap)
export LOG_FORMAT=${LOG_FORMAT:-text}
INGEST_ORGANIZATIONS=${INGEST_ORGANIZATIONS:-demo} \
INGEST_ORGANIZATION_DEMO_HMAC_KEY=${INGEST_ORGANIZATION_DEMO_HMAC_KEY:-demo-hmac-key} \
INGEST_DATABASE_PATH=var/ingest/ingest.sqlite \
    "$bin/ingest" &
pids+=($!)

echo "ingest:     http://127.0.0.1:8080/webhooks/lago/demo (HMAC key demo-hmac-key)"
echo "dev broker: $KAFKA_BOOTSTRAP_SERVERS (control API http://127.0.0.1:9644)"
echo "sandbox:    Salesforce http://127.0.0.1:8091, NetSuite http://127.0.0.1:8092 (inspect: GET /_sandbox/records)"
wait -n "${pids[@]}"
