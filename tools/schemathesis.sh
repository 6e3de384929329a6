#!/usr/bin/env bash
# Fuzz the REST API against its own OpenAPI schema with schemathesis, on a live server:
# gunicorn with rakuten.settings.fuzz (the test settings, throttles off) on a fresh
# database, once with a staff token and once with a seller's. Fails on any 5xx, on any
# answer that does not conform to the schema, or on fewer than FUZZ_MIN_REQUESTS API
# requests in all (counted in gunicorn's access log).
#
#   tools/schemathesis.sh                   SQLite and the SQLite broker in a temp folder
#   FUZZ_DATABASE_URL=mysql://root:@127.0.0.1:3306/rakuten_fuzz \
#   FUZZ_BROKER_URL=redis://127.0.0.1:6379/2 tools/schemathesis.sh     (what CI runs)
#
# The database must be empty or absent (SQLite): it is migrated and seeded here. Run
# from a venv with requirements-dev.txt (schemathesis) and gunicorn.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PORT=${FUZZ_PORT:-8766}
EXAMPLES=${FUZZ_MAX_EXAMPLES:-40}
MAX_TIME=${FUZZ_MAX_TIME:-75}         # seconds per role
MIN_REQUESTS=${FUZZ_MIN_REQUESTS:-1000}
SEED=${FUZZ_SEED:-2026}

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

export DJANGO_SETTINGS_MODULE=rakuten.settings.fuzz
export DATABASE_URL=${FUZZ_DATABASE_URL:-sqlite:///$work/fuzz.sqlite3}
export CELERY_BROKER_URL=${FUZZ_BROKER_URL:-sqla+sqlite:///$work/broker.sqlite3}
export DJANGO_MEDIA_ROOT=$work/media ML_ARTIFACTS_DIR=$work/ml
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
base="http://127.0.0.1:$PORT"

echo "fuzz: database ${DATABASE_URL%%://*}, broker ${CELERY_BROKER_URL%%://*}, port $PORT"
"$VENV/bin/python" manage.py migrate --noinput -v 0
"$VENV/bin/python" manage.py createcachetable  # (a database cache, when configured)
mapfile -t accounts < <(PYTHONPATH=. "$VENV/bin/python" tools/fuzz_seed.py | tail -2)
((${#accounts[@]} == 2)) || { echo "fuzz: seeding failed" >&2; exit 1; }

"$VENV/bin/gunicorn" rakuten.wsgi --bind "127.0.0.1:$PORT" --workers 2 --threads 4 \
  --timeout 60 --access-logfile "$work/access.log" --error-logfile "$work/error.log" &
server_pid=$!
for _ in $(seq 60); do
  curl -fsS -o /dev/null --max-time 5 "$base/healthz" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/error.log" >&2; exit 1; }
  sleep 1
done
curl -fsS -o /dev/null --max-time 5 "$base/healthz"

token() {  # token USERNAME PASSWORD -> an access token
  curl -fsS --max-time 30 -H 'Content-Type: application/json' \
    -d "{\"username\": \"$1\", \"password\": \"$2\"}" "$base/api/v1/token/" |
    "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["access"])'
}

# Both tokens first: fuzzing token/ with wrong passwords locks the client address out
# (django-axes locks the address as well as the username), so a log-in after the first
# run would be refused.
declare -A tokens
for account in "${accounts[@]}"; do
  read -r username password <<<"$account"
  tokens[$username]=$(token "$username" "$password")
done

status=0
for account in "${accounts[@]}"; do
  read -r username password <<<"$account"
  access=${tokens[$username]}
  echo
  echo "=== schemathesis as $username"
  "$VENV/bin/schemathesis" run "$base/api/v1/schema/?format=json" \
    --checks not_a_server_error,response_schema_conformance \
    -H "Authorization: Bearer $access" \
    --max-examples "$EXAMPLES" --max-time "$MAX_TIME" --seed "$SEED" \
    --request-timeout 30 --generation-database none --workers 1 \
    --no-color --suppress-health-check all || status=1
done

requests=$(grep -c '"[A-Z]* /api/v1/' "$work/access.log" || true)
server_errors=$(grep -cE '" 5[0-9][0-9] ' "$work/access.log" || true)
echo
echo "fuzz: $requests API requests, $server_errors answered 5xx"
if ((server_errors > 0)); then
  grep -E '" 5[0-9][0-9] ' "$work/access.log" | head -20 >&2
  status=1
fi
if ((requests < MIN_REQUESTS)); then
  echo "fuzz: fewer than $MIN_REQUESTS requests" >&2
  status=1
fi
exit $status
