#!/usr/bin/env bash
# Smoke test of the real production command: collectstatic with the production
# settings, then gunicorn with the production settings (as the Dockerfile runs it),
# and every page fetched with curl as an anonymous visitor, a seller and staff (as the
# TLS proxy forwards them: X-Forwarded-Proto: https), plus /healthz and a static file.
# Fails on any 5xx, on a page that does not answer what it should, or if gunicorn
# does not start. gunicorn is stopped on exit.
#
#   tools/production_smoke.sh               SQLite and the SQLite broker in a temp folder
#   SMOKE_DATABASE_URL=mysql://root:@127.0.0.1:3306/rakuten_smoke \
#   SMOKE_BROKER_URL=redis://127.0.0.1:6379/3 tools/production_smoke.sh   (what CI runs)
#
# The database must be empty or absent (SQLite): it is migrated and seeded here.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PORT=${SMOKE_PORT:-8767}
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

export DJANGO_SETTINGS_MODULE=rakuten.settings.production
export DJANGO_SECRET_KEY="smoke-$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')"
export DJANGO_DEBUG=false DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost
export DATABASE_URL=${SMOKE_DATABASE_URL:-sqlite:///$work/smoke.sqlite3}
export CELERY_BROKER_URL=${SMOKE_BROKER_URL:-sqla+sqlite:///$work/broker.sqlite3}
export DJANGO_STATIC_ROOT=$work/static DJANGO_MEDIA_ROOT=$work/media
export ML_ARTIFACTS_DIR=$work/ml HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
base="http://127.0.0.1:$PORT"

echo "smoke: database ${DATABASE_URL%%://*}, broker ${CELERY_BROKER_URL%%://*}, port $PORT"
"$VENV/bin/python" manage.py collectstatic --noinput -v 0
test -s "$DJANGO_STATIC_ROOT/staticfiles.json"
"$VENV/bin/python" manage.py migrate --noinput -v 0
"$VENV/bin/python" manage.py createcachetable  # (a database cache, when configured)
read -r seller_session staff_session product < <(
  PYTHONPATH=. "$VENV/bin/python" tools/smoke_seed.py | tail -1)
[[ -n "${product:-}" ]] || { echo "smoke: seeding failed" >&2; exit 1; }

# The production command (Dockerfile), on a spare port.
"$VENV/bin/gunicorn" rakuten.wsgi --bind "127.0.0.1:$PORT" --workers 2 --threads 4 \
  --timeout 60 --access-logfile "$work/access.log" --error-logfile "$work/error.log" &
server_pid=$!
up=""
for _ in $(seq 60); do
  if curl -s -o /dev/null --max-time 5 -H 'X-Forwarded-Proto: https' "$base/healthz"; then
    up=1; break
  fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 1
done
[[ -n "$up" ]] || { echo "smoke: gunicorn did not start" >&2; cat "$work/error.log" >&2; exit 1; }

failures=0
fetched=0
# fetch ROLE PATH EXPECTED...: GET PATH as ROLE; fail on a 5xx or another code.
fetch() {
  local role=$1 path=$2; shift 2
  local cookie=()
  case $role in
    seller) cookie=(-H "Cookie: sessionid=$seller_session") ;;
    staff) cookie=(-H "Cookie: sessionid=$staff_session") ;;
  esac
  local code
  code=$(curl -s -o "$work/body" -w '%{http_code}' --max-time 30 \
    -H 'X-Forwarded-Proto: https' "${cookie[@]}" "$base$path") || code=000
  fetched=$((fetched + 1))
  if [[ $code == 5* || $code == 000 || " $* " != *" $code "* ]]; then
    echo "smoke: FAIL $role GET $path -> $code (expected $*)" >&2
    head -c 400 "$work/body" >&2; echo >&2
    failures=$((failures + 1))
  else
    echo "smoke: $role GET $path -> $code"
  fi
}

for role in anonymous seller staff; do
  fetch "$role" / 200
  fetch "$role" /healthz 200
  fetch "$role" /favicon.ico 200
  fetch "$role" /api/v1/docs/ 200
  fetch "$role" /api/v1/schema/ 200
  fetch "$role" /no/such/page/ 404
done
for path in /accounts/login/ /accounts/signup/; do fetch anonymous "$path" 200; done
for path in /products/ /products/new/ /accounts/password/ /staff/performance/ /admin/; do
  fetch anonymous "$path" 302
done
for role in seller staff; do
  for path in /products/ /products/new/ "/products/new/?propose=1" /accounts/password/; do
    fetch "$role" "$path" 200
  done
done
for path in "/products/$product/" "/products/$product/edit/" "/products/$product/delete/"; do
  fetch seller "$path" 200
done
fetch staff "/products/$product/" 200
for path in /staff/performance/ /staff/training/ /staff/models/ /staff/categories/ \
  /staff/datasets/ /staff/audit/; do
  fetch seller "$path" 403
  fetch staff "$path" 200
done
fetch seller /admin/ 302
for path in /admin/ /admin/accounts/user/ /admin/catalog/product/ /admin/ml/trainingrun/ \
  /admin/django_celery_beat/periodictask/ /admin/password_change/; do
  fetch staff "$path" 200
done

# Anonymous /healthz: the status alone. A static file the home page links, hashed.
body=$(curl -s --max-time 10 -H 'X-Forwarded-Proto: https' "$base/healthz")
if [[ $body != '{"status": "ok"}' ]]; then
  echo "smoke: FAIL anonymous /healthz said $body" >&2; failures=$((failures + 1))
fi
asset=$(curl -s --max-time 10 -H 'X-Forwarded-Proto: https' "$base/" |
  grep -o '/static/css/app\.[0-9a-f]*\.css' | head -1)
if [[ -z $asset ]]; then
  echo "smoke: FAIL the home page links no hashed app.css" >&2; failures=$((failures + 1))
else
  fetch anonymous "$asset" 200
fi
# Plain HTTP is redirected to HTTPS (SECURE_SSL_REDIRECT).
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$base/")
[[ $code == 301 ]] || { echo "smoke: FAIL plain HTTP -> $code" >&2; failures=$((failures + 1)); }

server_errors=$(grep -cE '" 5[0-9][0-9] ' "$work/access.log" || true)
echo "smoke: $fetched requests, $failures failures, $server_errors answered 5xx"
if ((failures > 0 || server_errors > 0)); then
  tail -50 "$work/error.log" >&2
  exit 1
fi
