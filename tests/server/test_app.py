"""App-level behaviour: error shape for routing errors, CORS, the static page, limits on jobs."""

from __future__ import annotations

import httpx

from coincast.server.job_runner import MAX_ACTIVE_PER_USER
from coincast.settings import Settings
from tests.helpers.live_server import LiveServer, serve


def test_routing_errors_are_json(live_server: LiveServer) -> None:
    with live_server.client() as c:
        for method, path, status in [
            ("GET", "/nope", 404),
            ("POST", "/nope/deeper", 404),
            ("DELETE", "/health", 405),  # a known path, a method it lacks (Allow: GET)
            ("POST", live_server.url + "/index.html", 405),  # the static page is read-only
        ]:
            r = c.request(method, path)
            assert r.status_code == status
            err = r.json()["error"]
            assert err["type"] in ("NotFound", "MethodNotAllowed") and "/docs" in err["message"]
        r = c.post(
            "/users/local/jobs", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422 and r.json()["error"]["type"] == "ValidationError"


def test_static_page_is_served_at_root(live_server: LiveServer) -> None:
    r = httpx.get(live_server.url + "/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "<html" in r.text.lower()


def test_cors_only_for_configured_origins(settings: Settings) -> None:
    allowed = "http://page.example"
    with serve(settings.model_copy(update={"cors_origins": [allowed]})) as srv:
        pre = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        }
        ok = httpx.options(srv.api + "/me", headers={"Origin": allowed, **pre})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == allowed
        bad = httpx.options(srv.api + "/me", headers={"Origin": "http://evil.example", **pre})
        assert "access-control-allow-origin" not in bad.headers
        get = httpx.get(srv.api + "/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in get.headers
    with serve(settings) as srv:
        r = httpx.get(srv.api + "/health", headers={"Origin": allowed})
        assert "access-control-allow-origin" not in r.headers


def test_active_jobs_per_user_are_capped(live_server: LiveServer) -> None:
    # No history is stored, so jobs fail at once; holding them by submitting faster than
    # they fail is unreliable — so record running jobs in the job store directly.
    jobs = live_server.app.state.services.jobs
    from coincast.server.job_runner import Job
    from coincast.server.schemas import JobIn

    for k in range(MAX_ACTIVE_PER_USER):
        job = Job(id=f"held-{k}", user="local", spec=JobIn(coin="x", name="m"), status="running")
        jobs.store.insert(job.to_record(jobs.owner))
    with live_server.client() as c:
        r = c.post("/users/local/jobs", json={"coin": "x", "name": "m"})
        assert r.status_code == 400 and "cancel one" in r.json()["error"]["message"]
        listed = c.get("/users/local/jobs").json()["jobs"]
        assert len(listed) == MAX_ACTIVE_PER_USER


def test_json_bodies_have_a_small_limit(live_server: LiveServer) -> None:
    with live_server.client() as c:
        big = b'{"days": 7, "pad": "' + b"x" * (2 << 20) + b'"}'
        r = c.post(
            "/users/local/models/m/versions/1/forecast",
            content=big,
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 413 and r.json()["error"]["type"] == "PayloadTooLargeError"


def test_unexpected_errors_are_a_json_500_that_leaks_nothing(live_server: LiveServer) -> None:
    registry = live_server.app.state.services.registry

    def boom(user: str) -> None:
        raise RuntimeError("/very/secret/path db password=hunter2")

    registry.list_models = boom  # a bug, simulated
    with live_server.client() as c:
        r = c.get("/users/local/models")
    assert r.status_code == 500
    err = r.json()["error"]
    assert err["type"] == "InternalError" and "report" in err["message"]
    assert "secret" not in r.text and "hunter2" not in r.text
