"""Fixtures that run the real `dothi` binary on a free port, on SQLite or PostgreSQL.

The binary is $DOTHI_BIN (scripts/test builds target/debug/dothi). PostgreSQL runs use a fresh
database on $DOTHI_TEST_PG, dropped afterwards.
"""
import os
import socket
import subprocess
import tempfile
import time
import uuid

import pytest
import requests

BIN = os.environ.get("DOTHI_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "dothi"))
# docs/OPEN-DATA.md, "Datasets the platform publishes".
GENERATED_DATASETS = ["field-report-statistics", "field-reports-anonymised", "sensor-daily-aggregates",
                      "reference-lists"]
PG = os.environ.get("DOTHI_TEST_PG", "postgres://postgres@127.0.0.1:5432")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql):
    subprocess.run(["psql", f"{PG}/postgres", "-q", "-c", sql], check=True, capture_output=True)


class Server:
    def __init__(self, backend):
        self.backend = backend
        self.tmp = tempfile.TemporaryDirectory(prefix="dothi-interop-")
        if backend == "sqlite":
            self.db = f"sqlite://{self.tmp.name}/dothi.db"
            self.pg_name = None
        else:
            self.pg_name = "dothi_interop_" + uuid.uuid4().hex[:12]
            psql(f"CREATE DATABASE {self.pg_name}")
            self.db = f"{PG}/{self.pg_name}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, DATABASE_URL=self.db, RUST_LOG="warn",
                   DOTHI_DATA_DIR=os.path.join(self.tmp.name, "data"))
        self.log = open(os.path.join(self.tmp.name, "server.log"), "w")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--demo", "--listen", f"127.0.0.1:{self.port}"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise RuntimeError("dothi did not start: " + open(self.log.name).read())
        # The first open-data refresh publishes the platform's own datasets in the catalogue
        # shortly after start-up: wait for it, so that no test sees the catalogue change.
        while time.time() < deadline:
            names = requests.get(self.url + "/api/3/action/package_list", timeout=5).json()["result"]
            if set(GENERATED_DATASETS) <= set(names):
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("the open data were not published: " + open(self.log.name).read())
        out = subprocess.run([BIN, "api-key", "create", "--name", "interop"], env=env,
                             check=True, capture_output=True, text=True).stdout
        self.api_key = out.strip().splitlines()[-1]

    def token(self, username, password):
        r = requests.post(self.url + "/api/v1/auth/token", json={"username": username, "password": password})
        r.raise_for_status()
        return r.json()["access_token"]

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        if self.pg_name:
            psql(f"DROP DATABASE IF EXISTS {self.pg_name} WITH (FORCE)")
        self.tmp.cleanup()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request):
    s = Server(request.param)
    yield s
    s.stop()
