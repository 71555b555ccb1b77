#!/usr/bin/env bash
# Gate of the production traffic shift (.github/workflows/pipeline.yml): is the canary revision within the
# SLO? Reads Cloud Run's own request metrics through Cloud Monitoring's PromQL API for the last WINDOW and
# fails (exit 1) when the canary's error ratio burns the 99.9% budget at the fast-burn rate of the SLO alerts
# (14.4x, deploy/prometheus/rules/availability-slo.yml) or its p95 latency passes the HighLatency threshold.
# Too little traffic to judge is not a pass: the gate waits for MIN_REQUESTS.
#
#   scripts/rollout-gate.sh PROJECT REGION SERVICE REVISION
# Environment: WINDOW (default 5m), MIN_REQUESTS (default 50), MAX_ERROR_RATIO (default 0.0144),
# MAX_P95_SECONDS (default 1), ATTEMPTS and SLEEP_SECONDS between them (defaults 20 and 30).
set -euo pipefail
project=$1 region=$2 service=$3 revision=$4
window=${WINDOW:-5m}
min_requests=${MIN_REQUESTS:-50}
max_error_ratio=${MAX_ERROR_RATIO:-0.0144}
max_p95=${MAX_P95_SECONDS:-1}
attempts=${ATTEMPTS:-20}
sleep_seconds=${SLEEP_SECONDS:-30}
api="https://monitoring.googleapis.com/v1/projects/${project}/location/global/prometheus/api/v1/query"
selector="monitored_resource=\"cloud_run_revision\",location=\"${region}\",service_name=\"${service}\",revision_name=\"${revision}\""

query() {
  curl --silent --show-error --fail --get "$api" \
    --header "Authorization: Bearer $(gcloud auth print-access-token)" \
    --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // "NaN"'
}

for attempt in $(seq 1 "$attempts"); do
  requests=$(query "sum(increase(run_googleapis_com:request_count{${selector}}[${window}]))")
  errors=$(query "sum(increase(run_googleapis_com:request_count{${selector},response_code_class=\"5xx\"}[${window}])) or vector(0)")
  p95=$(query "histogram_quantile(0.95, sum by (le) (rate(run_googleapis_com:request_latencies_bucket{${selector}}[${window}]))) / 1000")
  echo "attempt ${attempt}: ${revision} requests=${requests} errors=${errors} p95=${p95}s over ${window}"
  if awk -v n="$requests" -v min="$min_requests" 'BEGIN { exit !(n != "NaN" && n + 0 >= min + 0) }'; then
    if awk -v e="$errors" -v n="$requests" -v max="$max_error_ratio" 'BEGIN { exit !(e / n > max + 0) }'; then
      echo "::error::${revision}: error ratio above ${max_error_ratio} (fast burn of the 99.9% SLO)"
      exit 1
    fi
    if awk -v p="$p95" -v max="$max_p95" 'BEGIN { exit !(p != "NaN" && p + 0 > max + 0) }'; then
      echo "::error::${revision}: p95 latency above ${max_p95}s"
      exit 1
    fi
    echo "${revision} is within the SLO"
    exit 0
  fi
  sleep "$sleep_seconds"
done
echo "::error::${revision}: fewer than ${min_requests} requests in ${window} after ${attempts} attempts; cannot judge"
exit 1
