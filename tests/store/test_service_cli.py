"""``cllcds users``, ``cllcds audit`` and ``cllcds db upgrade`` against a real database."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from cllcds.cli import main
from cllcds.services import _clinical_store as cs
from cllcds.services._repository import Actor
from cllcds.store import Store


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_users_add_list_disable(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    code, out, _ = run(
        [
            "users",
            "add",
            "nina",
            "--role",
            "pharmacist",
            "--password-stdin",
            "--database-url",
            database_url,
        ],
        capsys,
    )
    assert code == 0
    assert "added nina (pharmacist)" in out
    code, out, _ = run(
        ["users", "list", "--format", "json", "--database-url", database_url], capsys
    )
    assert json.loads(out) == [
        {
            "username": "nina",
            "role": "pharmacist",
            "disabled": False,
            "created_at": json.loads(out)[0]["created_at"],
        }
    ]
    assert run(["users", "disable", "nina", "--database-url", database_url], capsys)[0] == 0
    store = Store.open(database_url)
    assert store.get_user("nina")["disabled"] is True
    store.close()
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    code, _, err = run(
        [
            "users",
            "add",
            "x",
            "--role",
            "nurse",
            "--password-stdin",
            "--database-url",
            database_url,
        ],
        capsys,
    )
    assert code == 2
    assert err.startswith("error: role: 'nurse' is invalid")
    assert "Traceback" not in err


def test_audit_command(
    database_url: str, capsys: pytest.CaptureFixture[str], course_doc: dict[str, Any]
) -> None:
    store = Store.open(database_url)
    course = cs.create_course(store, course_doc, Actor("dr-who", "r-9"))
    note = {"date": "2007-01-09", "type": "note", "text": "hello"}
    cs.append_event(
        store, course["id"], note, expected_version=3, idempotency_key=None, actor=Actor("dr-who")
    )
    store.close()
    code, out, _ = run(
        ["audit", "--course", course["id"], "--format", "json", "--database-url", database_url],
        capsys,
    )
    assert code == 0
    entries = json.loads(out)
    assert [e["action"] for e in entries] == ["course.create", "event.append"]
    assert entries[1]["before"] == {"version": 3}
    code, out, _ = run(["audit", "--course", course["id"], "--database-url", database_url], capsys)
    assert code == 0
    assert "event.append" in out
    code, _, err = run(["audit", "--course", "nope", "--database-url", database_url], capsys)
    assert code == 2
    assert "course" in err


def test_db_upgrade(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["db", "upgrade", "--database-url", database_url], capsys)
    assert code == 0
    assert "latest schema" in out


def test_default_database_in_data_dir(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CLLCDS_DATABASE_URL", raising=False)
    monkeypatch.setenv("CLLCDS_DATA_DIR", str(tmp_path / "data"))
    code, _out, _ = run(["db", "upgrade"], capsys)
    assert code == 0
    assert (tmp_path / "data" / "cllcds.db").is_file()


def test_bootstrap_admin_prints_its_password_once(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["users", "bootstrap-admin", "--database-url", database_url], capsys)
    assert code == 0
    password = out.rsplit("(shown once): ", 1)[1].strip()
    assert len(password) >= 20
    store = Store.open(database_url)
    try:
        user = cs.authenticate(store, "admin", password)
        assert user is not None
        assert user["role"] == "admin"
        # A second call creates nothing and prints no password.
        code, out, err = run(["users", "bootstrap-admin", "--database-url", database_url], capsys)
        assert code == 1
        assert "exists already" in err
        assert "password" not in out
        assert [u["username"] for u in store.list_users()] == ["admin"]
    finally:
        store.close()
