#!/usr/bin/env bash
# Ingest benchmark: requests/s of ingest (HMAC check, dedupe, acks=all produce to the dev broker) with
# 4 KB signed Lago webhooks, against a bare Hummingbird POST endpoint measured in the same run on the
# same machine, in alternating rounds. Prints the round with the median ratio and writes
# bench-results/ingest.json.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${BENCH_DURATION:-15}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-1}
ROUNDS=${BENCH_ROUNDS:-3}
# Ingest's first seconds are slower (SQLite's WAL and the broker's logs growing): measure it warm.
WARMUP=${BENCH_WARMUP:-10}
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d)
mkdir -p bench-results
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_for_line() {  # file, pattern
    for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1
}

"$bin/dev-broker" --control-port 0 --bootstrap-file "$work/bootstrap" > "$work/broker.log" 2>&1 &
pids+=($!)
wait_for_line "$work/broker.log" "dev-broker ready"
bootstrap=$(cat "$work/bootstrap")

KAFKA_BOOTSTRAP_SERVERS=$bootstrap HTTP_PORT=0 LOG_LEVEL=warning LOG_FORMAT=json \
INGEST_ORGANIZATIONS=bench INGEST_ORGANIZATION_BENCH_HMAC_KEY=bench-hmac-key \
INGEST_DATABASE_PATH="$work/ingest.sqlite" \
    "$bin/ingest" > "$work/ingest.log" 2>&1 &
pids+=($!)
"$bin/bench-baseline" --port 0 > "$work/baseline.log" 2>&1 &
pids+=($!)
wait_for_line "$work/baseline.log" "listening"
baseline_port=$(awk '/listening/ {print $2}' "$work/baseline.log")

# ingest logs at warning here, so find its port from the socket table.
ingest_pid=${pids[1]}
for _ in $(seq 200); do
    ingest_port=$(ss -ltnpH 2>/dev/null | awk -v pid="pid=$ingest_pid," '$0 ~ pid {split($4, a, ":"); print a[length(a)]}' | head -1)
    [ -n "${ingest_port:-}" ] && break; sleep 0.05
done
[ -n "${ingest_port:-}" ] || { echo "ingest did not start" >&2; cat "$work/ingest.log" >&2; exit 1; }

# A 4 KB Lago webhook (customer.created with metadata), signed with the organization's HMAC key.
python3 - "$work" <<'PY'
import base64, hashlib, hmac, json, sys
work = sys.argv[1]
webhook = json.load(open("Tests/TestSupport/Fixtures/lago/customer.created.json"))
index = 0
while len(json.dumps(webhook, separators=(",", ":"))) < 4096:
    webhook["customer"]["metadata"].append({"lago_id": f"meta-{index:04d}", "key": f"segment_{index}", "value": "enterprise-north-america", "display_in_invoice": False, "created_at": "2025-03-04T09:12:44Z"})
    index += 1
body = json.dumps(webhook, separators=(",", ":"))
signature = base64.b64encode(hmac.new(b"bench-hmac-key", body.encode(), hashlib.sha256).digest()).decode()
lua = f"""
wrk.method = "POST"
wrk.body = {json.dumps(body)}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Lago-Signature"] = "{signature}"
wrk.headers["X-Lago-Signature-Algorithm"] = "hmac"
local counter = 0
local prefix = tostring(math.random(1, 1e9))
request = function()
    counter = counter + 1
    wrk.headers["X-Lago-Unique-Key"] = prefix .. "-" .. counter
    return wrk.format()
end
"""
open(f"{work}/webhook.lua", "w").write(lua)
print(f"body: {len(body)} bytes", file=sys.stderr)
PY

run_wrk() {  # url, seconds -> "requests_per_second non2xx p99_ms"
    local out
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$2"s --latency -s "$work/webhook.lua" "$1")
    local rps non2xx p99
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/, "", v); v/=1000} else if (v ~ /ms$/) {sub(/ms/, "", v)} else if (v ~ /s$/) {sub(/s/, "", v); v*=1000}; print v}' <<<"$out")
    echo "$rps $non2xx ${p99:-0}"
}

baseline_url="http://127.0.0.1:$baseline_port/webhooks/lago/bench"
ingest_url="http://127.0.0.1:$ingest_port/webhooks/lago/bench"
echo "warming up…" >&2
run_wrk "$baseline_url" 3 >/dev/null
run_wrk "$ingest_url" "$WARMUP" >/dev/null

# Alternate the two so that machine noise hits both alike; report the round with the median ratio.
rounds=(); ingest_errors=0
for round in $(seq "$ROUNDS"); do
    read -r baseline_rps _ baseline_p99 < <(run_wrk "$baseline_url" "$DURATION")
    echo "round $round baseline: $baseline_rps req/s (p99 ${baseline_p99} ms)" >&2
    read -r ingest_rps errors ingest_p99 < <(run_wrk "$ingest_url" "$DURATION")
    echo "round $round ingest:   $ingest_rps req/s (p99 ${ingest_p99} ms, non-2xx $errors)" >&2
    ingest_errors=$((ingest_errors + errors))
    rounds+=("$(awk -v a="$ingest_rps" -v b="$baseline_rps" 'BEGIN {printf "%.4f", a / b}') $baseline_rps $ingest_rps $baseline_p99 $ingest_p99")
done
read -r ratio baseline_rps ingest_rps baseline_p99 ingest_p99 < <(printf '%s\n' "${rounds[@]}" | sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))p")
verdict=$(awk -v r="$ratio" 'BEGIN {print (r >= 0.5 ? "met" : "NOT met")}')
ratio=$(printf '%.3f' "$ratio")
round_ratios=$(printf '%s\n' "${rounds[@]}" | awk '{printf "%s%s", (NR > 1 ? ", " : ""), $1}')
cpu=$(nproc); model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
printf '\n%-34s %14s %10s\n' "endpoint (4 KB signed webhook)" "requests/s" "p99 ms"
printf '%-34s %14s %10s\n' "bare Hummingbird POST (baseline)" "$baseline_rps" "$baseline_p99"
printf '%-34s %14s %10s\n' "ingest (verify, dedupe, acks=all)" "$ingest_rps" "$ingest_p99"
printf '%-34s %14s\n' "ratio ingest / baseline (median)" "$ratio"
printf 'target ≥ 0.50: %s; ingest non-2xx responses: %s\n' "$verdict" "$ingest_errors"
printf 'ratio of each round: %s\n' "$round_ratios"
printf 'machine: %s cores, %s; wrk -t%s -c%s, %s rounds of %ss after %ss of warm-up\n' "$cpu" "$model" "$THREADS" "$CONNECTIONS" "$ROUNDS" "$DURATION" "$WARMUP"

cat > bench-results/ingest.json <<JSON
{
  "benchmark": "ingest",
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "machine": {"cores": $cpu, "cpu": "$model"},
  "load": {"tool": "wrk", "threads": $THREADS, "connections": $CONNECTIONS, "seconds": $DURATION, "rounds": $ROUNDS, "warmup_seconds": $WARMUP, "body_bytes": 4096},
  "baseline_requests_per_second": $baseline_rps,
  "ingest_requests_per_second": $ingest_rps,
  "ratio": $ratio,
  "round_ratios": [$round_ratios],
  "target_ratio": 0.5,
  "ingest_non_2xx": $ingest_errors,
  "baseline_p99_ms": $baseline_p99,
  "ingest_p99_ms": $ingest_p99
}
JSON
echo "wrote bench-results/ingest.json" >&2
[ "$ingest_errors" -eq 0 ] || { echo "ingest answered non-2xx under load" >&2; exit 1; }
