"""The OpenAPI document against the real server: Schemathesis generates requests for every
operation of /openapi.json (valid and invalid ones) and checks every response.

The requirement is zero server errors and zero schema violations: no 5xx, every status code
documented for its operation, every body matching its documented schema and every
Content-Type the documented one. It runs on SQLite and on PostgreSQL (the `server` fixture).

Set DOTHI_ST_SEED to reproduce a run (Schemathesis prints its seed) or to 'random' for a new
one each time, and DOTHI_ST_EXAMPLES to change the number of generated cases per operation.
"""
import os
import shutil
import subprocess
import sys

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKS = ",".join([
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
])
SEED = os.environ.get("DOTHI_ST_SEED", "20261123")
EXAMPLES = os.environ.get("DOTHI_ST_EXAMPLES", "25")

# Operations that end the session they run in, so they run apart, each with its own token, after
# the main run: logging out revokes the token the run uses, updating a user may deactivate or
# demote the admin running the tests, revoking an API key may revoke the one the Open311
# submissions use, and a password reset may change the password of any demo account (so it
# runs very last). Nothing is left untested; they only run last, in this order.
DESTRUCTIVE = ["revokeApiKey", "logout", "updateUser", "resetUserPassword"]

# The IOC live feed and the alert stream are endless server-sent-event streams: a generated
# request would only end at the request timeout. Their answers are checked by hand (the feed
# below) and in crates/dothi-http/tests/{ioc,alerts}.rs.
STREAMING = ["iocFeed", "iocAlertStream"]


def st_binary():
    candidate = os.path.join(os.path.dirname(sys.executable), "st")
    found = candidate if os.path.exists(candidate) else shutil.which("st")
    if not found:
        pytest.fail("the schemathesis CLI (st) is not installed: pip install -r tests/interop/requirements.txt")
    return found


def schemathesis(server, token, *selection, examples=EXAMPLES):
    """Run `st run` against the server's /openapi.json; its combined output, or a failure."""
    args = [
        st_binary(), "run", f"{server.url}/openapi.json",
        "--checks", CHECKS,
        "--max-examples", str(examples),
        "--request-timeout", "30",
        "--generation-database", "none",
        "--no-color",
        *selection,
    ]
    if SEED != "random":
        args += ["--seed", SEED]
    if token:
        args += ["--header", f"Authorization: Bearer {token}"]
    env = dict(os.environ,
               SCHEMATHESIS_HOOKS=os.path.join(HERE, "schemathesis_hooks.py"),
               DOTHI_OPEN311_API_KEY=server.api_key,
               NO_COLOR="1")
    # The working directory is the server's temporary one, so nothing is left in the repository.
    run = subprocess.run(args, cwd=server.tmp.name, env=env, capture_output=True, text=True, timeout=600)
    output = run.stdout + run.stderr
    if run.returncode != 0:
        server.log.flush()
        with open(server.log.name, encoding="utf-8", errors="replace") as f:
            errors = [line for line in f if "ERROR" in line or "panicked" in line]
        pytest.fail(
            f"schemathesis found problems on {server.backend} (exit {run.returncode}):\n"
            f"$ SCHEMATHESIS_HOOKS={env['SCHEMATHESIS_HOOKS']} DOTHI_OPEN311_API_KEY=… "
            f"{' '.join(a if 'Bearer' not in a else repr('Authorization: Bearer …') for a in args)}\n\n"
            f"{output}\n--- server errors ({len(errors)}) ---\n{''.join(errors[-40:])}",
            pytrace=False,
        )
    # The summary, for `pytest -rP` or `-s`.
    print(output[output.rfind("=== SUMMARY ==="):] if "=== SUMMARY ===" in output else output[-3000:])
    return output


def test_coordinates_after_reports_without_them_are_stored(server):
    """Found by Schemathesis on PostgreSQL. sqlx 0.8.6's Any driver binds a NULL f64 as a NULL
    float4 (sqlx-core any/arguments.rs swaps Real and Double), and the statement cached on the
    connection keeps that parameter type, so the same insert with a number then fails with
    "incorrect binary data format" (a 503) on that connection: a report with GPS after one
    without, an admin unit with a centroid after one without. Each case sends the NULLs first.
    """
    ioc = {"Authorization": "Bearer " + server.token("ioc", "dothi-ioc-2026")}
    admin = {"Authorization": "Bearer " + server.token("admin", "dothi-admin-2026")}
    base = {"category": "KHAC", "description": "Rác thải ven đường Lê Lợi"}
    for _ in range(4):
        for extra in ({"address": "12 Lê Lợi, phường Thuận Hóa"}, {"lat": 16.4637, "long": 107.5909}):
            r = requests.post(server.url + "/api/v1/reports", json={**base, **extra}, headers=ioc, timeout=30)
            assert r.status_code == 201, (extra, r.status_code, r.text)
    unit = {"code": "T-UNIT", "name": "Phường Thử nghiệm", "division_type": "phường"}
    for _ in range(4):
        for extra in ({}, {"lat": 16.47, "lon": 107.61}, {"lat": None, "lon": 107.61}, {"lat": 16.47, "lon": None}):
            r = requests.put(server.url + "/api/v1/admin/admin-units/T-UNIT", json={**unit, **extra}, headers=admin,
                             timeout=30)
            assert r.status_code == 200, (extra, r.status_code, r.text)


def test_input_that_cannot_be_stored_or_shown_is_refused_with_a_4xx(server):
    """Cases Schemathesis rarely generates, pinned down: U+0000 (PostgreSQL text cannot hold it)
    and deadlines beyond the supported calendar (and beyond ISO 8601's four-digit years)."""
    def problem(r, status):
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == "application/problem+json", r.headers
        assert r.json()["status"] == status

    problem(requests.post(server.url + "/api/v1/auth/register", timeout=30,
                          json={"username": "nul-user", "password": "mat-khau-2026", "display_name": "a\u0000b"}), 422)
    problem(requests.post(server.url + "/api/v1/auth/token", timeout=30,
                          json={"username": "admin\u0000", "password": "dothi-admin-2026"}), 422)
    problem(requests.get(server.url + "/api/v1/reports", params={"q": "đèn\u0000"}, timeout=30), 400)
    problem(requests.get(server.url + "/api/v1/calendar/deadline", timeout=30,
                         params={"from": "9999-12-31T08:00:00+07:00", "days": 365}), 422)
    r = requests.get(server.url + "/open311/v2/tokens/abc%00def.json", timeout=30)
    assert (r.status_code, r.json()[0]["code"]) == (404, 404), r.text


# Runs before the Schemathesis test, which may deactivate the demo accounts (updateUser).
def test_live_feed_answers_as_documented(server):
    r = requests.get(server.url + "/api/v1/ioc/feed", timeout=10,
                     headers={"Authorization": "Bearer " + server.token("citizen", "dothi-citizen-2026")})
    assert (r.status_code, r.headers["content-type"]) == (403, "application/problem+json"), r.text
    r = requests.get(server.url + "/api/v1/ioc/feed", timeout=10)
    assert r.status_code == 401
    ioc = server.token("ioc", "dothi-ioc-2026")
    with requests.get(server.url + "/api/v1/ioc/feed", stream=True, timeout=10,
                      headers={"Authorization": "Bearer " + ioc, "Last-Event-ID": "0"}) as r:
        assert (r.status_code, r.headers["content-type"]) == (200, "text/event-stream")
        first = next(r.iter_lines(decode_unicode=True))
        assert first.startswith(("id: ", "event: ", ":")), first


def test_schemathesis_finds_no_server_errors_and_no_schema_violations(server):
    admin = server.token("admin", "dothi-admin-2026")
    exclude = [arg for op in DESTRUCTIVE + STREAMING for arg in ("--exclude-operation-id", op)]
    out = schemathesis(server, admin, *exclude)
    assert "Selected: " in out, out

    # As a citizen the same endpoints take other paths: own reports, channel and reporter rules,
    # ratings, and 403s from the admin API.
    citizen = server.token("citizen", "dothi-citizen-2026")
    schemathesis(server, citizen, *exclude, examples=10)

    # Without a token: 401s where one is needed, the public view everywhere else.
    schemathesis(server, None, *exclude, examples=10)

    for op in DESTRUCTIVE:
        # A fresh token each time: the previous run may have revoked its own.
        token = server.token("admin", "dothi-admin-2026")
        schemathesis(server, token, "--include-operation-id", op)

    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200

