"""Shared pieces of the web API tests: a site on a real database, users, clients.

``make_site(db_url, tmp_path)`` builds the registry of tests/aggregator/test_store.py
(three cameras whose URLs carry the password ``hunter2``), the web app and one user per
role. ``Site.client(role)`` logs in through ``POST /login``; every response any client
fetches is checked for the camera password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from aggregator.store import EventStore
from aggregator.web.app import create_app
from aggregator.web.auth import create_user, issue_token
from aggregator.web.models import UserRow
from gridwatch.config import Settings
from gridwatch.db import session_scope
from tests.aggregator.test_store import event_types, make_registry, make_store

PASSWORD = "correct horse battery"
CAMERA_SECRET = "hunter2"
ROLES = ("operator", "engineer", "admin")


def _no_secret(response: httpx.Response) -> None:
    response.read()
    body = response.content.decode("utf-8", "replace")
    headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
    assert CAMERA_SECRET not in body and CAMERA_SECRET not in headers, response.url


@dataclass
class Site:
    engine: Engine
    store: EventStore
    app: Any
    evidence_dir: Path
    fetched: list[str] = field(default_factory=list)

    def anonymous(self) -> TestClient:
        client = TestClient(self.app, follow_redirects=False)
        client.event_hooks["response"] = [_no_secret, self._count]
        return client

    def _count(self, response: httpx.Response) -> None:
        self.fetched.append(str(response.url))

    def client(self, role: str) -> TestClient:
        """A client logged in (session cookie) as the user named after ``role``."""
        client = self.anonymous()
        r = client.post("/login", data={"username": role, "password": PASSWORD})
        assert r.status_code == 303, r.text
        return client

    def csrf(self, client: TestClient) -> dict[str, str]:
        token = client.get("/api/session").json()["csrf_token"]
        return {"X-CSRF-Token": token}

    def token_client(self, role: str) -> TestClient:
        with session_scope(self.engine) as db:
            user = db.query(UserRow).filter_by(username=role).one()
            token = issue_token(db, user, "test")
        client = self.anonymous()
        client.headers["Authorization"] = f"Bearer {token}"
        return client


def make_site(db_url: str, tmp_path: Path, **settings: Any) -> Site:
    engine = make_registry(db_url)
    store = make_store(engine, tmp_path)
    with session_scope(engine) as db:
        for role in ROLES:
            create_user(db, role, role, PASSWORD)
    config = Settings.model_validate({"aggregator": {"web": settings}} if settings else {})
    app = create_app(
        config, db_url=db_url, evidence_dir=tmp_path / "evidence", event_types=event_types()
    )
    return Site(engine, store, app, tmp_path / "evidence")
