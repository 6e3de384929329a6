"""Load on predict/ through the production stack: gunicorn with the production
settings, on MariaDB and Redis (broker and shared cache).

Usage:
    .venv/bin/python bench/load.py [--mysql URL] [--redis URL] [--duration 30]
        [--levels 4 16] [--json PATH]

Needs the MySQL driver (`make install-mysql`), a MariaDB server (the database named in
--mysql is dropped and created again) and Redis. It migrates the database with the
production settings, imports the built-in demo catalogue, trains two small text models
(the second one is activated half-way through each level), creates one seller per
client, starts gunicorn (2 workers x 4 threads, as the Dockerfile), then for each level
runs that many clients (threads, each with its own keep-alive connection and token)
posting a product title to predict/ for --duration seconds. Prints, per level:
requests, req/s, p50/p99 latency and the errors (any answer but 200) by status.

The throttles are lifted for the run (API_THROTTLE_PREDICT, API_THROTTLE_USER): it
measures serving, not the rate limits (which still count in Redis on every request).
"""

import argparse
import http.client
import json
import os
import platform
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TITLES = [
    "Piscine tubulaire ronde 3m avec pompe",
    "Roman policier edition de poche",
    "Chaise de jardin pliante en acacia",
    "Manette sans fil pour console",
    "Lot de 3 bouteilles isothermes",
    "Puzzle 1000 pieces paysage de montagne",
    "Bache de protection pour piscine hors sol",
    "Figurine de collection super heros",
]

SETUP = """
import django
django.setup()
from django.db import transaction
from accounts.models import User
from catalog.services.imports import demo_catalogue_ensure
from ml.services.training_runs import training_run_create, training_run_execute

demo_catalogue_ensure(per_category=20)
ids = []
for epochs in (2, 3):
    run = training_run_create(
        parameters={"text_only": True, "epochs": epochs, "activate": True},
        enqueue=False,
    )
    ids.append(training_run_execute(run_id=run.pk).model_version_id)
for i in range(CLIENTS):
    User.objects.create_user(
        username=f"load{i}", password=PASSWORD, role=User.Role.SELLER
    )
print(json.dumps(ids))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mysql", default="mysql://root:@127.0.0.1:3306/rakuten_load")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--levels", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    clients = max(args.levels)
    password = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory() as tmp:
        env = _environment(args, Path(tmp))
        _mysql_recreate(args.mysql)
        _manage(env, "migrate", "-v", "0")
        code = f"import json\nCLIENTS = {clients}\nPASSWORD = {password!r}\n" + SETUP
        out = _run([sys.executable, "-c", code], env)
        versions = json.loads(out.strip().splitlines()[-1])
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "rakuten.wsgi",
                "--bind",
                f"127.0.0.1:{args.port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "60",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        try:
            _wait_for(args.port)
            tokens = [_token(args.port, f"load{i}", password) for i in range(clients)]
            results = []
            for level in args.levels:
                _activate(env, versions[0])
                results.append(
                    _level(args.port, tokens[:level], args.duration, env, versions[1])
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    report = {
        "machine": (
            f"{platform.machine()} {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}"
        ),
        "date": time.strftime("%Y-%m-%d"),
        "server": "gunicorn 2 workers x 4 threads, production settings, MariaDB, Redis",
        "duration_s": args.duration,
        "levels": results,
    }
    print("| clients | requests | req/s | p50 ms | p99 ms | errors | activations |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['clients']} | {r['requests']} | {r['req_per_s']:.1f} "
            f"| {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['errors']} "
            f"{r['errors_by_status'] or ''} | {r['activations']} |"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


def _environment(args, tmp: Path) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rakuten.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": args.mysql,
        "CELERY_BROKER_URL": f"{args.redis}/8",
        "CACHE_URL": f"{args.redis}/9",
        "ML_ARTIFACTS_DIR": str(tmp / "ml"),
        "DJANGO_MEDIA_ROOT": str(tmp / "media"),
        "JWT_ACCESS_MINUTES": "60",
        "API_THROTTLE_PREDICT": "1000000/minute",
        "API_THROTTLE_USER": "1000000/minute",
        "HF_HUB_OFFLINE": "1",
        "DJANGO_LOG_LEVEL": "WARNING",
    }


def _run(command: list[str], env: dict) -> str:
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(f"{' '.join(command[:3])} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _manage(env: dict, *args: str) -> str:
    return _run([sys.executable, "manage.py", *args], env)


def _activate(env: dict, version_id: int) -> None:
    _manage(env, "activate_model", str(version_id))


def _mysql_recreate(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    subprocess.run(
        [
            "mariadb",
            "-uroot",
            "-h127.0.0.1",
            "--protocol=tcp",
            "-e",
            f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name} "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        ],
        check=True,
    )


def _wait_for(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/favicon.ico")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.5)
    sys.exit("gunicorn did not answer")


def _token(port: int, username: str, password: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"username": username, "password": password})
    conn.request("POST", "/api/v1/token/", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = json.loads(response.read())
    if response.status != 200:
        sys.exit(f"token for {username}: {response.status} {data}")
    return data["access"]


def _level(port: int, tokens: list[str], duration: float, env: dict, other: int):
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + duration

    def client(index: int, token: str) -> None:
        rng = random.Random(index)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
        }
        while time.monotonic() < deadline:
            body = json.dumps({"title": rng.choice(TITLES), "description": ""})
            began = time.monotonic()
            try:
                conn.request("POST", "/api/v1/predict/", body, headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0  # connection error
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = time.monotonic() - began
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [
        threading.Thread(target=client, args=(i, t)) for i, t in enumerate(tokens)
    ]
    for thread in threads:
        thread.start()
    # Half-way through, another model is activated while the clients keep asking.
    time.sleep(max(0.0, duration / 2 - (time.monotonic() - start)))
    _activate(env, other)
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    ordered = sorted(latencies)
    errors = {str(s): n for s, n in sorted(statuses.items()) if s != 200}
    return {
        "clients": len(tokens),
        "requests": len(latencies),
        "req_per_s": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "errors": sum(errors.values()),
        "errors_by_status": errors,
        "activations": 1,
    }


if __name__ == "__main__":
    main()
