"""Web access on real databases: login, sessions, expiry, roles, CSRF, API tokens, users CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from aggregator.web.auth import authenticate, hash_password, verify_password
from aggregator.web.models import SessionRow
from gridwatch.cli import cli
from gridwatch.db import session_scope
from tests.aggregator.test_store import event, incoming
from tests.web.web_helpers import PASSWORD, make_site

JSON = {"Accept": "application/json"}


def test_password_hash_is_salted_and_checked() -> None:
    a, b = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert a != b and a.startswith("scrypt$")
    assert verify_password("s3cret-pass", a) and not verify_password("s3cret-pasS", a)
    assert not verify_password("s3cret-pass", "garbage")


def test_login_session_logout_and_expiry(db_url: str, tmp_path: Path) -> None:
    site = make_site(db_url, tmp_path)
    client = site.anonymous()
    r = client.post(
        "/login", data={"username": "operator", "password": PASSWORD, "next": "/cases?x=1"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/cases?x=1"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=43200" in cookie
    assert "/api/cases/{case_id}/transitions" in client.get("/openapi.json").json()["paths"]
    me = client.get("/api/session").json()
    assert (me["username"], me["role"], me["via"]) == ("operator", "operator", "session")

    assert client.post("/logout").status_code == 403  # no CSRF token
    r = client.post("/logout", data={"csrf_token": me["csrf_token"]})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/api/session").status_code == 401
    with session_scope(site.engine) as db:
        assert db.query(SessionRow).count() == 0  # ended on the server, not only the cookie

    client = site.client("operator")
    assert client.get("/api/cases").status_code == 200
    with session_scope(site.engine) as db:
        db.execute(update(SessionRow).values(expires_at=0.0))
    assert client.get("/api/cases").status_code == 401


def test_open_redirects_are_refused(sqlite_url: str, tmp_path: Path) -> None:
    client = make_site(sqlite_url, tmp_path).anonymous()
    for target in ("//evil.example/", "https://evil.example/", "/\\evil"):
        data = {"username": "admin", "password": PASSWORD, "next": target}
        assert client.post("/login", data=data).headers["location"] == "/"


def test_wrong_credentials_do_not_say_which_part_and_are_rate_limited(
    sqlite_url: str, tmp_path: Path
) -> None:
    client = make_site(sqlite_url, tmp_path, login_attempts=3).anonymous()
    wrong_pw = client.post("/login", data={"username": "admin", "password": "nope"}, headers=JSON)
    no_user = client.post("/login", data={"username": "nobody", "password": "x"}, headers=JSON)
    assert wrong_pw.status_code == no_user.status_code == 401
    assert wrong_pw.json() == no_user.json() == {"detail": "wrong username or password"}
    page = client.post("/login", data={"username": "admin", "password": "nope"})
    assert page.status_code == 401 and "text/html" in page.headers["content-type"]
    assert "set-cookie" not in page.headers
    client.post("/login", data={"username": "admin", "password": "nope"})
    good = {"username": "admin", "password": PASSWORD}
    assert client.post("/login", data=good, headers=JSON).status_code == 429  # 3 failures
    assert client.post("/login", data={**good, "username": "operator"}).status_code == 303


def test_no_credentials_401_for_api_and_redirect_for_pages(db_url: str, tmp_path: Path) -> None:
    client = make_site(db_url, tmp_path).anonymous()
    for path in (
        "/api/cases",
        "/api/cases/1",
        "/api/review-queue",
        "/api/cameras",
        "/api/grid",
        "/api/stats",
        "/api/event-types",
        "/open311/v2/services.json",
        "/open311/v2/requests.json",
        "/open311/v2/requests/1.json",
    ):
        assert client.get(path).status_code == 401, path
    assert client.post("/api/cases/1/transitions", json={"state": "registered"}).status_code == 401
    r = client.get("/evidence/2026/x.jpg?size=1")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fevidence%2F2026%2Fx.jpg%3Fsize%3D1"
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/docs").status_code == 404  # swagger would load a CDN


def test_roles_and_csrf_on_writes(db_url: str, tmp_path: Path) -> None:
    site = make_site(db_url, tmp_path)
    site.store.commit_events([incoming(event())])
    engineer, operator = site.client("engineer"), site.client("operator")
    move = {"state": "registered", "note": "looks real"}
    r = engineer.post("/api/cases/1/transitions", json=move, headers=site.csrf(engineer))
    assert r.status_code == 403 and "operator" in r.json()["detail"]
    r = operator.patch("/api/cameras/cam-1", json={"enabled": False}, headers=site.csrf(operator))
    assert r.status_code == 403
    assert operator.post("/api/cases/1/transitions", json=move).status_code == 403  # no CSRF
    bad = {"X-CSRF-Token": "forged"}
    assert operator.post("/api/cases/1/transitions", json=move, headers=bad).status_code == 403
    r = operator.post("/api/cases/1/transitions", json=move, headers=site.csrf(operator))
    assert r.status_code == 201 and r.json()["case"]["state"] == "registered"
    admin = site.client("admin")  # admin may do everything
    r = admin.patch("/api/cameras/cam-1", json={"enabled": False}, headers=site.csrf(admin))
    assert r.status_code == 200 and r.json()["enabled"] is False


def test_api_token_works_and_is_exempt_from_csrf(db_url: str, tmp_path: Path) -> None:
    site = make_site(db_url, tmp_path)
    site.store.commit_events([incoming(event())])
    client = site.token_client("operator")
    assert client.get("/api/session").json()["via"] == "token"
    r = client.post("/api/cases/1/transitions", json={"state": "registered"})
    assert r.status_code == 201 and r.json()["transition"]["actor"] == "operator"
    assert client.get("/open311/v2/requests/1.json").status_code == 200
    # A wrong token is refused even next to a valid session cookie.
    session = site.client("admin")
    session.headers["Authorization"] = "Bearer not-a-token"
    assert session.get("/api/cases").status_code == 401


def test_evidence_is_served_only_from_the_folder(sqlite_url: str, tmp_path: Path) -> None:
    site = make_site(sqlite_url, tmp_path)
    payload = event(evidence=("snapshot.jpg",))
    site.store.commit_events([incoming(payload, {"snapshot.jpg": b"\xff\xd8jpeg"})])
    (tmp_path / "secret.txt").write_text("not evidence")
    client = site.client("engineer")
    url = client.get("/api/cases/1").json()["events"][0]["evidence_urls"][0]
    r = client.get(url)
    assert r.status_code == 200 and r.content == b"\xff\xd8jpeg"
    for bad in ("/evidence/../secret.txt", "/evidence/%2e%2e/secret.txt", "/evidence/nope.jpg"):
        assert client.get(bad).status_code == 404, bad
    assert site.anonymous().get(url).status_code == 303


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_users_add_reads_the_password_from_stdin(sqlite_url: str, role: str) -> None:
    runner = CliRunner()
    args = ["users", "add", "ana", "--role", role, "--db", sqlite_url]
    result = runner.invoke(cli, args, input="s3cret-passw0rd\n")
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli, args, input="s3cret-passw0rd\n").exit_code != 0  # exists
    short = runner.invoke(cli, ["users", "add", "bo", "--role", role, "--db", sqlite_url], "x\n")
    assert short.exit_code != 0 and "at least" in short.output
    token = runner.invoke(cli, ["users", "token", "ana", "--db", sqlite_url])
    assert token.exit_code == 0 and len(token.stdout.strip()) >= 40
    listing = runner.invoke(cli, ["users", "list", "--db", sqlite_url])
    assert "ana" in listing.output and role in listing.output
    from gridwatch.db import open_db

    with session_scope(open_db(sqlite_url)) as db:
        assert authenticate(db, "ana", "s3cret-passw0rd") is not None
        assert authenticate(db, "ana", "wrong-password") is None
