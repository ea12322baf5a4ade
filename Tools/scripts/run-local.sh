#!/usr/bin/env bash
# Starts the dev broker, the sandbox (Salesforce and NetSuite simulators), ingest, transform and both
# writers on localhost, with a demo organization synced to the sandbox; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(swift build --show-bin-path)
mkdir -p var/dev-broker var/ingest var/sandbox var/transform var/crm-writer var/erp-writer var/notifier
rm -f var/dev-broker/bootstrap var/sandbox/ports.json

pids=()
# The services first, so they commit and leave their consumer groups while the broker still runs.
stop() {
    for pid in "${pids[@]:2}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]:2}"; do wait "$pid" 2>/dev/null || true; done
    kill "${pids[@]:0:2}" 2>/dev/null || true
    wait 2>/dev/null || true
}
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
# The development broker holds each fetch for its whole wait (a real broker answers when a message
# arrives), and holds an idempotent producer's batch for about 45 ms while another request of the
# same connection is in flight: a short wait and one request in flight keep the local pipeline quick.
export KAFKA_FETCH_WAIT_MAX_MS=${KAFKA_FETCH_WAIT_MAX_MS:-10}
export KAFKA_MAX_IN_FLIGHT=${KAFKA_MAX_IN_FLIGHT:-1}
export LOG_FORMAT=${LOG_FORMAT:-text}
INGEST_ORGANIZATIONS=${INGEST_ORGANIZATIONS:-demo} \
INGEST_ORGANIZATION_DEMO_HMAC_KEY=${INGEST_ORGANIZATION_DEMO_HMAC_KEY:-demo-hmac-key} \
INGEST_DATABASE_PATH=var/ingest/ingest.sqlite \
    "$bin/ingest" &
pids+=($!)

TRANSFORM_CONNECTIONS=salesforce,netsuite \
TRANSFORM_CONNECTION_SALESFORCE_SYSTEM=salesforce \
TRANSFORM_CONNECTION_NETSUITE_SYSTEM=netsuite \
TRANSFORM_CONNECTION_NETSUITE_MAPPING_FILE=Tools/scripts/netsuite-sandbox-items.json \
HTTP_PORT=8081 \
    "$bin/transform" &
pids+=($!)

CRM_CONNECTIONS=salesforce \
CRM_CONNECTION_SALESFORCE_LOGIN_URL=http://127.0.0.1:8091 \
CRM_CONNECTION_SALESFORCE_CLIENT_ID=crossbill-sandbox-client \
CRM_CONNECTION_SALESFORCE_CLIENT_SECRET=crossbill-sandbox-secret \
HTTP_PORT=8082 \
    "$bin/crm-writer" &
pids+=($!)

ERP_CONNECTIONS=netsuite \
ERP_CONNECTION_NETSUITE_ACCOUNT_ID=TSTDRV1234567 \
ERP_CONNECTION_NETSUITE_BASE_URL=http://127.0.0.1:8092 \
ERP_CONNECTION_NETSUITE_CONSUMER_KEY=crossbill-sandbox-consumer-key \
ERP_CONNECTION_NETSUITE_CONSUMER_SECRET=crossbill-sandbox-consumer-secret \
ERP_CONNECTION_NETSUITE_TOKEN_ID=crossbill-sandbox-token-id \
ERP_CONNECTION_NETSUITE_TOKEN_SECRET=crossbill-sandbox-token-secret \
HTTP_PORT=8083 \
    "$bin/erp-writer" &
pids+=($!)

NOTIFIER_DASHBOARD_TOKEN=${NOTIFIER_DASHBOARD_TOKEN:-demo-dashboard-token} \
HTTP_PORT=8084 \
    "$bin/notifier" &
pids+=($!)

echo "ingest:     http://127.0.0.1:8080/webhooks/lago/demo (HMAC key demo-hmac-key)"
echo "dev broker: $KAFKA_BOOTSTRAP_SERVERS (control API http://127.0.0.1:9644)"
echo "transform:  http://127.0.0.1:8081/metrics; crm-writer :8082; erp-writer :8083"
echo "dashboard:  http://127.0.0.1:8084/dashboard (token ${NOTIFIER_DASHBOARD_TOKEN:-demo-dashboard-token})"
echo "sandbox:    Salesforce http://127.0.0.1:8091, NetSuite http://127.0.0.1:8092 (inspect: GET /_sandbox/records)"
wait -n "${pids[@]}"
