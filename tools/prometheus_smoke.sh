#!/usr/bin/env bash
# A real Prometheus (Debian's `prometheus` binary) scrapes the running platform:
# gunicorn (2 workers, prometheus-client's multiprocess mode) on a fresh database with
# an active model, /metrics opened to Prometheus by METRICS_TOKEN, Prometheus scraping
# every second with deploy/prometheus/alerts.yml loaded. Through Prometheus' HTTP query
# API: the target is up, the seeding's training run is counted, and the prediction
# counter moves by exactly 1 after one predict call. Both servers are stopped on exit.
#
#   tools/prometheus_smoke.sh               SQLite and the SQLite broker in a temp folder
#   PROM_DATABASE_URL=mysql://root:@127.0.0.1:3306/rakuten_prom \
#   PROM_BROKER_URL=redis://127.0.0.1:6379/4 tools/prometheus_smoke.sh  (what CI runs)
#
# The database must be empty or absent (SQLite): it is migrated and seeded here.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PROMETHEUS=${PROMETHEUS:-prometheus}
PORT=${PROM_SMOKE_PORT:-8768}
PROM_PORT=${PROM_SMOKE_PROMETHEUS_PORT:-9091}
command -v "$PROMETHEUS" >/dev/null || {
  echo "prometheus smoke: no $PROMETHEUS binary (Debian: apt-get install prometheus)" >&2
  exit 1
}

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

export DJANGO_SETTINGS_MODULE=rakuten.settings.fuzz
export DATABASE_URL=${PROM_DATABASE_URL:-sqlite:///$work/prom.sqlite3}
export CELERY_BROKER_URL=${PROM_BROKER_URL:-sqla+sqlite:///$work/broker.sqlite3}
export DJANGO_MEDIA_ROOT=$work/media ML_ARTIFACTS_DIR=$work/ml
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
# Every process of the platform here (the seeding, gunicorn's workers) counts into
# this folder; /metrics reads all of it.
export PROMETHEUS_MULTIPROC_DIR=$work/multiproc
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
export METRICS_TOKEN="scrape-$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n')"
printf '%s' "$METRICS_TOKEN" >"$work/token"
base="http://127.0.0.1:$PORT"
prom="http://127.0.0.1:$PROM_PORT"

echo "prometheus smoke: database ${DATABASE_URL%%://*}, broker ${CELERY_BROKER_URL%%://*}"
"$VENV/bin/python" manage.py migrate --noinput -v 0
"$VENV/bin/python" manage.py createcachetable
read -r username password < <(PYTHONPATH=. "$VENV/bin/python" tools/prometheus_seed.py | tail -1)
[[ -n "${password:-}" ]] || { echo "prometheus smoke: seeding failed" >&2; exit 1; }

"$VENV/bin/gunicorn" rakuten.wsgi --bind "127.0.0.1:$PORT" --workers 2 --threads 4 \
  --timeout 60 --access-logfile "$work/access.log" --error-logfile "$work/error.log" &
pids+=($!)
for _ in $(seq 60); do
  curl -fsS -o /dev/null --max-time 5 "$base/healthz" 2>/dev/null && break
  sleep 1
done
curl -fsS -o /dev/null --max-time 5 "$base/healthz"
# /metrics is closed without the token
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$base/metrics")
[[ $code == 403 ]] || { echo "prometheus smoke: anonymous /metrics -> $code" >&2; exit 1; }

cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $PWD/deploy/prometheus/alerts.yml
scrape_configs:
  - job_name: rakuten-web
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: $work/token
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
EOF
"$PROMETHEUS" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$work/prometheus.log" 2>&1 &
pids+=($!)

# query EXPR -> the value of the first series, or "none" when the result is empty.
query() {
  curl -fsS --max-time 10 -G "$prom/api/v1/query" --data-urlencode "query=$1" |
    "$VENV/bin/python" -c 'import json, sys
body = json.load(sys.stdin)
assert body["status"] == "success", body
result = body["data"]["result"]
print(result[0]["value"][1] if result else "none")'
}
# wait_for EXPR VALUE: poll Prometheus until EXPR reads VALUE (30 s at most).
wait_for() {
  local got=""
  for _ in $(seq 60); do
    got=$(query "$1" 2>/dev/null || echo "error")
    [[ $got == "$2" ]] && return 0
    sleep 0.5
  done
  echo "prometheus smoke: FAIL $1 is $got, expected $2" >&2
  tail -20 "$work/prometheus.log" >&2
  return 1
}

wait_for 'up{job="rakuten-web"}' 1
echo "prometheus smoke: Prometheus scrapes the platform (target up)"
rules=$(curl -fsS --max-time 10 "$prom/api/v1/rules" |
  "$VENV/bin/python" -c 'import json, sys
print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')
echo "prometheus smoke: $rules alert rules loaded"
((rules > 0)) || { echo "prometheus smoke: FAIL no alert rule loaded" >&2; exit 1; }
wait_for 'sum(rakuten_training_runs_total{kind="full",outcome="succeeded"})' 1
wait_for 'count(rakuten_active_model_info)' 1

counter='sum(rakuten_predictions_total{job="rakuten-web"}) or vector(0)'
before=$(query "$counter")
echo "prometheus smoke: predictions before: $before"
access=$(curl -fsS --max-time 30 -H 'Content-Type: application/json' \
  -d "{\"username\": \"$username\", \"password\": \"$password\"}" "$base/api/v1/token/" |
  "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["access"])')
# (the first prediction of a gunicorn worker loads the model: give it time)
curl -fsS -o /dev/null --max-time 180 -H "Authorization: Bearer $access" \
  -H 'Content-Type: application/json' -d '{"title": "Un produit de test"}' \
  "$base/api/v1/predict/"
expected=$((${before%%.*} + 1))
wait_for "$counter" "$expected"
sleep 3  # a few more scrapes: still exactly one more
after=$(query "$counter")
[[ $after == "$expected" ]] || {
  echo "prometheus smoke: FAIL predictions $before -> $after" >&2; exit 1
}
echo "prometheus smoke: predictions after one predict call: $after (was $before)"
