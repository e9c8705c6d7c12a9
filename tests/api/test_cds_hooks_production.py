"""CDS Hooks as a hospital plugs it in: the full service (store, web pages, FHIR endpoint) over
real HTTP on SQLite, EHR JWTs signed with generated keys whose JWKS is served over loopback
HTTP, the service's own FHIR endpoint as the ``fhirServer``, the audit log.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from cllcds import fhir
from cllcds import services as cs
from cllcds.api import Settings, create_app
from cllcds.api._cds_auth import BASE_ENV, ISSUERS_ENV
from cllcds.api._cds_hooks import TOKEN_ENV
from cllcds.services import Actor, Role
from cllcds.store import Store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "courses"
ISSUER = "https://ehr.hospital.test"
PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Keys:
    """The EHR's signing keys (RSA for RS384, P-384 for ES384) and a stranger's key."""

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP384R1())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @classmethod
    def jwks(cls) -> dict[str, Any]:
        r = json.loads(RSAAlgorithm.to_jwk(cls.rsa_key.public_key()))
        e = json.loads(ECAlgorithm.to_jwk(cls.ec_key.public_key()))
        r |= {"kid": "rsa-1", "alg": "RS384", "use": "sig"}
        e |= {"kid": "ec-1", "alg": "ES384", "use": "sig"}
        return {"keys": [r, e]}


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    body = json.dumps(Keys.jwks()).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


def recent(doc: dict[str, Any]) -> dict[str, Any]:
    """The example course moved in time so that its last event was yesterday (the hooks judge
    a course on today's date)."""
    doc.pop("as_of", None)
    last = max(dt.date.fromisoformat(e["date"][:10]) for e in doc["events"])
    shift = dt.date.today() - dt.timedelta(days=1) - last

    def move(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        if isinstance(value, list):
            return [move(v) for v in value]
        if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
            return (dt.date.fromisoformat(value) + shift).isoformat()
        return value

    moved: dict[str, Any] = move(doc)
    moved["patient"]["birth_date"] = doc["patient"].get("birth_date", "1950-01-01")
    return moved


class Service:
    def __init__(self, base: str, store: Store, token: str, course_id: str, pid: str) -> None:
        self.base = base
        self.store = store
        self.token = token
        self.course_id = course_id
        self.pid = pid


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    url = f"sqlite:///{tmp_path_factory.mktemp('cds') / 'cllcds.db'}"
    store = Store.open(url)
    app = create_app(Settings(database_url=url), store=store)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    cs.add_user(store, "onc", PASSWORD, Role.CLINICIAN, Actor("setup"))
    token = httpx.post(f"{base}/auth/token", json={"username": "onc", "password": PASSWORD}).json()[
        "access_token"
    ]
    doc = recent(json.loads((EXAMPLES / "infusion-reaction-grade-3.json").read_text("utf-8")))
    pid = f"p-{uuid.uuid4().hex[:8]}"
    doc["patient"]["id"] = pid
    r = httpx.post(f"{base}/courses", json=doc, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    try:
        yield Service(base, store, token, r.json()["id"], pid)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        store.close()


def hook_body(svc: Service, *, fhir_server: bool = True, prefetch: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hookInstance": str(uuid.uuid4()),
        "hook": "patient-view",
        "context": {"userId": "Practitioner/onc-7", "patientId": svc.pid},
    }
    if fhir_server:
        body["fhirServer"] = f"{svc.base}/fhir"
        body["fhirAuthorization"] = {
            "access_token": svc.token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/*.read",
            "subject": "cds-service",
        }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def signed(
    svc: Service,
    *,
    key: Any = None,
    kid: str = "rsa-1",
    alg: str = "RS384",
    aud: str | None = None,
    exp_in: int = 120,
    iss: str = ISSUER,
    jti: str | None = None,
) -> str:
    now = int(time.time())
    claims = {
        "iss": iss,
        "sub": "ehr-client-42",
        "aud": aud or f"{svc.base}/cds-services/cllcds-patient-view",
        "iat": now,
        "exp": now + exp_in,
        "jti": jti or str(uuid.uuid4()),
    }
    return jwt.encode(claims, key or Keys.rsa_key, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch, jwks_url: str) -> None:
    monkeypatch.setenv(ISSUERS_ENV, json.dumps({ISSUER: jwks_url}))
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.delenv(BASE_ENV, raising=False)


def call(svc: Service, token: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.post(
        f"{svc.base}/cds-services/cllcds-patient-view",
        json=body or hook_body(svc),
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


# ------------------------------------------------------------------------------------------
# Trusting CDS clients


@pytest.mark.usefixtures("trusted")
def test_a_real_signed_jwt_is_accepted_rs384_and_es384(service: Service) -> None:
    r = call(service, signed(service))
    assert r.status_code == 200, r.text
    r = call(service, signed(service, key=Keys.ec_key, kid="ec-1", alg="ES384"))
    assert r.status_code == 200, r.text


@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("wrong key", "Signature verification failed"),
        ("wrong audience", "Audience doesn't match"),
        ("expired", "Signature has expired"),
        ("untrusted issuer", "is not a trusted issuer"),
        ("unknown kid", "no key for kid"),
        ("too long-lived", "longer than 5 minutes"),
    ],
)
def test_a_bad_jwt_is_refused(service: Service, case: str, why: str) -> None:
    token = {
        "wrong key": lambda: signed(service, key=Keys.stranger),
        "wrong audience": lambda: signed(service, aud="https://other.example/cds-services/x"),
        "expired": lambda: signed(service, exp_in=-120),
        "untrusted issuer": lambda: signed(service, iss="https://evil.test"),
        "unknown kid": lambda: signed(service, kid="rotated-away"),
        "too long-lived": lambda: signed(service, exp_in=3600),
    }[case]()
    r = call(service, token)
    assert r.status_code == 401
    assert why in r.json()["error"]
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.usefixtures("trusted")
def test_a_replayed_jwt_is_refused(service: Service) -> None:
    token = signed(service, jti="once-only")
    assert call(service, token).status_code == 200
    r = call(service, token)
    assert r.status_code == 401
    assert "replay" in r.json()["error"]


@pytest.mark.usefixtures("trusted")
def test_the_audience_is_the_public_service_url_behind_a_proxy(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BASE_ENV, "https://cds.hospital.test")
    public = "https://cds.hospital.test/cds-services/cllcds-patient-view"
    assert call(service, signed(service, aud=public)).status_code == 200
    assert call(service, signed(service)).status_code == 401  # the internal URL is not it


@pytest.mark.usefixtures("trusted")
def test_the_shared_secret_is_only_a_development_option(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert call(service, "dev-secret").status_code == 401
    monkeypatch.setenv(TOKEN_ENV, "dev-secret")
    assert call(service, "dev-secret").status_code == 200


# ------------------------------------------------------------------------------------------
# Data: the service's own FHIR endpoint as the fhirServer


@pytest.mark.usefixtures("trusted")
def test_without_prefetch_the_hook_reads_the_fhir_server(service: Service) -> None:
    r = call(service, signed(service))
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    expected = cs.stored_course_state(service.store, service.course_id, as_of=dt.date.today())
    assert expected["status"] == "on_hold"  # the grade 3 infusion reaction
    hold = next(c for c in cards if c["indicator"] == "critical")
    assert hold["summary"].startswith("Alemtuzumab on hold")
    assert "infusion reaction" in hold["summary"]  # plain words, not infusion_reaction
    link = hold["links"][0]
    assert link["url"] == f"{service.base}/app/courses/{service.course_id}"
    assert link["type"] == "absolute"


@pytest.mark.usefixtures("trusted")
def test_null_prefetch_keys_are_read_from_the_fhir_server(service: Service) -> None:
    with httpx.Client(
        base_url=f"{service.base}/fhir", headers={"Authorization": f"Bearer {service.token}"}
    ) as c:
        patient = c.get(f"/Patient/{service.pid}").json()
    prefetch = {"patient": patient, "observations": None, "adverseEvents": None}
    r = call(service, signed(service), hook_body(service, prefetch=prefetch))
    assert r.status_code == 200, r.text
    assert any(c["indicator"] == "critical" for c in r.json()["cards"])


@pytest.mark.usefixtures("trusted")
def test_missing_prefetch_without_fhir_server_is_412(service: Service) -> None:
    body = hook_body(service, fhir_server=False, prefetch={"patient": None})
    r = call(service, signed(service), body)
    assert r.status_code == 412
    assert "no fhirServer" in r.json()["error"]


def test_fhir_read_endpoint(service: Service) -> None:
    with httpx.Client(
        base_url=f"{service.base}/fhir", headers={"Authorization": f"Bearer {service.token}"}
    ) as c:
        meta = httpx.get(f"{service.base}/fhir/metadata").json()
        assert meta["fhirVersion"] == "4.0.1"
        assert {r["type"] for r in meta["rest"][0]["resource"]} >= {
            "Patient",
            "Observation",
            "MedicationAdministration",
            "PlanDefinition",
        }
        r = c.get("/MedicationAdministration", params={"patient": service.pid})
        assert r.headers["content-type"].startswith("application/fhir+json")
        doses = r.json()["entry"]
        assert doses
        assert all(e["resource"]["resourceType"] == "MedicationAdministration" for e in doses)
        ae = c.get("/AdverseEvent", params={"subject": f"Patient/{service.pid}"}).json()
        assert ae["entry"][0]["resource"]["extension"][1]["valueInteger"] == 3
        pd = c.get("/PlanDefinition", params={"patient": service.pid}).json()
        assert pd["entry"][0]["resource"]["url"].endswith("/alemtuzumab-iv-label")
        assert c.get("/Patient/nobody").status_code == 404
        assert (
            httpx.get(f"{service.base}/fhir/Observation?patient={service.pid}").status_code == 401
        )


# ------------------------------------------------------------------------------------------
# Audit, feedback, CORS


@pytest.mark.usefixtures("trusted")
def test_every_hook_call_and_feedback_is_audited(service: Service) -> None:
    body = hook_body(service)
    r = call(service, signed(service), body)
    card = r.json()["cards"][0]
    entries = cs.audit_log(service.store, None, "cds_hooks", 500, 0).items
    (entry,) = [e for e in entries if e["entity_id"] == body["hookInstance"]]
    assert entry["actor"] == f"{ISSUER}#ehr-client-42"
    assert entry["action"] == "cds-hook:patient-view"
    assert entry["after"]["patient"] == service.pid
    assert card["uuid"] in [c["uuid"] for c in entry["after"]["cards"]]
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": {"code": "clinical-judgement"}},
                "outcomeTimestamp": "2026-12-06T10:00:00Z",
            }
        ]
    }
    feedback_url = f"{service.base}/cds-services/cllcds-patient-view/feedback"
    r = httpx.post(
        feedback_url,
        json=feedback,
        headers={"Authorization": f"Bearer {signed(service, aud=feedback_url)}"},
    )
    assert r.status_code == 200, r.text
    entries = cs.audit_log(service.store, None, "cds_hooks", 500, 0).items
    (fb,) = [
        e
        for e in entries
        if e["action"].startswith("cds-feedback") and e["entity_id"] == card["uuid"]
    ]
    assert fb["after"]["outcome"] == "overridden"


def test_cors_preflight_and_headers(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLLCDS_CDS_CORS_ORIGINS", "https://smart.hospital.test")
    r = httpx.options(
        f"{service.base}/cds-services/cllcds-patient-view",
        headers={
            "Origin": "https://smart.hospital.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://smart.hospital.test"
    assert "Authorization" in r.headers["access-control-allow-headers"]
    r = httpx.get(f"{service.base}/cds-services", headers={"Origin": "https://smart.hospital.test"})
    assert r.headers["access-control-allow-origin"] == "https://smart.hospital.test"
    r = httpx.get(f"{service.base}/cds-services", headers={"Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.usefixtures("trusted")
def test_a_replay_is_refused_by_another_worker_process_on_the_same_database(
    service: Service, monkeypatch: pytest.MonkeyPatch, jwks_url: str, tmp_path: Path
) -> None:
    """Two app instances (this process and a `cllcds serve` process) on one database, behind
    one public URL: a JWT used at either is refused at the other (the seen jti values are in
    the database, not in a worker's memory)."""
    public = "https://cds.hospital.test"
    monkeypatch.setenv(BASE_ENV, public)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {
        **os.environ,
        "CLLCDS_DATABASE_URL": service.store.engine.url.render_as_string(hide_password=False),
        ISSUERS_ENV: json.dumps({ISSUER: jwks_url}),
        BASE_ENV: public,
    }
    env.pop(TOKEN_ENV, None)
    log = tmp_path / "worker2.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("cllcds")), "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        other = Service(f"http://127.0.0.1:{port}", service.store, service.token, "", service.pid)
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{other.base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        aud = f"{public}/cds-services/cllcds-patient-view"
        body = hook_body(service)  # the EHR data comes from the first instance's /fhir
        first = signed(service, aud=aud)
        assert call(service, first, body).status_code == 200
        r = call(other, first, body)
        assert r.status_code == 401
        assert "replay" in r.json()["error"]
        second = signed(service, aud=aud)
        assert call(other, second, body).status_code == 200, log.read_text()
        r = call(service, second, body)
        assert r.status_code == 401
        assert "replay" in r.json()["error"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_fhir_searches_cover_all_the_patients_courses(service: Service) -> None:
    auth = {"Authorization": f"Bearer {service.token}"}
    first = recent(json.loads((EXAMPLES / "escalating.json").read_text("utf-8")))
    pid = f"p-{uuid.uuid4().hex[:8]}"
    first["patient"]["id"] = pid
    second = recent(json.loads((EXAMPLES / "infusion-reaction-grade-3.json").read_text("utf-8")))
    second["patient"] = first["patient"]
    ids = []
    for doc in (first, second):
        r = httpx.post(f"{service.base}/courses", json=doc, headers=auth)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    with httpx.Client(base_url=f"{service.base}/fhir", headers=auth) as c:
        doses = c.get("/MedicationAdministration", params={"patient": pid}).json()["entry"]
        everything = {
            t: c.get(f"/{t}", params={"patient": pid}).json()["entry"]
            for t in ("Observation", "Condition", "AdverseEvent", "CarePlan")
        }
    tags = [
        next(t["code"] for t in e["resource"]["meta"]["tag"] if t["system"].endswith("/course"))
        for e in doses
    ]
    given = [e for doc in (first, second) for e in doc["events"] if e["type"] == "dose"]
    assert len(doses) == len(given)  # the doses of both courses
    assert set(tags) == set(ids)
    urls = [e["fullUrl"] for e in doses + [x for v in everything.values() for x in v]]
    assert len(urls) == len(set(urls))  # no fullUrl is shared between the courses
    # A reader rebuilding a course from the searchset reads the most recent one, and says so.
    with httpx.Client(base_url=f"{service.base}/fhir", headers=auth) as c:
        patient = c.get(f"/Patient/{pid}").json()
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": patient}]
        + list(doses)
        + [e for v in everything.values() for e in v],
    }
    result = fhir.bundle_to_course(bundle)
    # the most recent course is the one that started last
    latest, other = sorted(
        zip((first, second), ids, strict=True), key=lambda d: d[0]["start_date"]
    )[::-1]
    assert result.course["start_date"] == latest[0]["start_date"]
    assert [(e["date"], e["dose_mg"]) for e in result.course["events"] if e["type"] == "dose"] == [
        (e["date"], e["dose_mg"]) for e in latest[0]["events"] if e["type"] == "dose"
    ]
    assert any(f"of course {other[1]}" in w for w in result.warnings)
