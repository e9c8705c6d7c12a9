"""The command line starts without loading what the command does not use.

``cllcds --help`` lists every command without importing any command group, and
``cllcds course assess`` loads the course engine only; checked by the modules present in
``sys.modules`` of a real process (never by timing). Also: ``--version``, shell completion
(Typer's), and the listing table kept equal to what the groups register.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main

import cllcds
from cllcds import services
from cllcds.cli import COMMANDS, _build

CLLCDS = shutil.which("cllcds", path=str(Path(sys.executable).parent)) or "cllcds"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "courses" / "neutropenia-hold.json"
HEAVY = (
    "scipy",
    "alembic",
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "matplotlib",
    "numba",
    "pandas",
    "lifelines",
    "dask",
    "fhir",
    "cllcds.cohort",
    "cllcds.store",
    "cllcds.api",
    "cllcds.web",
    "cllcds.fhir",
    "cllcds.pk",
    "cllcds.evidence",
)
"""Modules no start-up of ``--help`` or ``course assess`` may import."""


def loaded_modules(*args: str) -> tuple[set[str], str]:
    """Run ``cllcds ARGS`` in a fresh interpreter; the modules it imported and its output."""
    code = textwrap.dedent(
        f"""
        import io, json, sys
        from contextlib import redirect_stdout
        from cllcds.cli import main
        out = io.StringIO()
        code = 0
        with redirect_stdout(out):
            try:
                main({list(args)!r})
            except SystemExit as exc:
                code = exc.code or 0
        print(json.dumps({{"modules": sorted(sys.modules), "out": out.getvalue(), "code": code}}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data["code"] == 0, proc.stderr
    return set(data["modules"]), data["out"]


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_lists_every_command_without_importing_the_heavy_parts():
    modules, out = loaded_modules("--help")
    assert heavy(modules) == []
    assert not any(m.startswith("cllcds.cli._") for m in modules)  # no command group
    assert "numpy" not in modules
    assert "pydantic" not in modules
    for name in COMMANDS:
        assert name in out
    assert "--version" in out
    assert "--install-completion" in out


def test_course_assess_loads_the_course_engine_only():
    modules, out = loaded_modules("course", "assess", str(EXAMPLE), "--format", "json")
    assert json.loads(out)["status"] == "on_hold"
    assert "cllcds.course" in modules
    assert heavy(modules) == []
    assert "cllcds.cli._service" not in modules


def test_course_assess_of_many_files_loads_the_course_engine_only():
    escalating = EXAMPLE.with_name("escalating.json")
    modules, out = loaded_modules("course", "assess", str(EXAMPLE), str(escalating))
    statuses = [json.loads(line)["state"]["status"] for line in out.splitlines()]
    assert statuses == ["on_hold", "active"]
    assert heavy(modules) == []
    assert "cllcds.cli._service" not in modules


def test_listing_table_matches_what_the_groups_register():
    """The help listed without loading the groups is the help the groups define."""
    real = short_helps(_build(everything=True))
    assert real == short_helps(_build([]))
    assert set(real) == {*COMMANDS, "version"}


def short_helps(app: typer.Typer) -> dict[str, str]:
    group: Any = typer.main.get_command(app)
    ctx = group.context_class(group)  # Typer's own (vendored) click
    helps = {}
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        helps[name] = command.get_short_help_str(limit=200)
    return helps


def test_version_option_and_command_print_the_version():
    for args in (["--version"], ["version"]):
        proc = subprocess.run([CLLCDS, *args], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == cllcds.__version__


@pytest.mark.parametrize(
    ("typed", "expected", "absent"),
    [
        ("cllcds co", {"course", "cohort"}, {"evidence"}),
        ("cllcds course a", {"assess"}, {"schema"}),
        ("cllcds pk simulate --ba", {"--backend"}, set()),
    ],
)
def test_bash_completion_completes_commands_and_options(typed, expected, absent):
    """Typer's completion protocol, as the script from ``--show-completion bash`` calls it; a
    command's own options complete although ``--help`` does not load the command groups."""
    words = typed.split()
    env = {
        **os.environ,
        "_CLLCDS_COMPLETE": "complete_bash",
        "COMP_WORDS": typed,
        "COMP_CWORD": str(len(words) - 1),
    }
    proc = subprocess.run([CLLCDS], capture_output=True, text=True, env=env, check=False)
    offered = set(proc.stdout.split())
    assert expected <= offered, (proc.stdout, proc.stderr)
    assert not (absent & offered)


def test_services_export_table_matches_all():
    """Every public name of cllcds.services resolves through its lazy table."""
    assert sorted([*services._WHERE, "preload"]) == sorted(services.__all__)
    for name in services.__all__:
        assert getattr(services, name) is not None


BLOCKER = """
import importlib.abc, sys

class Uninstalled(importlib.abc.MetaPathFinder):
    '''As if only the base dependencies were installed: no extra.'''

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Uninstalled())
sys.argv = ["cllcds", *{args!r}]
from cllcds.cli import main
main()
"""


def run_base_only(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``cllcds ARGS`` as it runs where no extra is installed."""
    from cllcds.cli import EXTRAS

    code = BLOCKER.format(blocked=sorted(EXTRAS), args=list(args))
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
    )


def test_base_install_runs_the_course_engine_and_pk():
    proc = run_base_only("course", "assess", str(EXAMPLE), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "on_hold"
    proc = run_base_only(
        "pk", "simulate", "--regimen", "label-iv", "--t-end", "100", "--format", "json"
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["cmax"]["value"] > 0


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (("serve", "--demo"), "server"),
        (("users", "list"), "server"),
        (("pk", "simulate", "--regimen", "label-iv", "--plot", "x.svg"), "plot"),
        (("pk", "simulate", "--regimen", "label-iv", "--backend", "compiled"), "pk"),
    ],
)
def test_a_missing_extra_is_named_with_the_install_command(args, extra, tmp_path):
    proc = run_base_only(*args, cwd=tmp_path)
    assert proc.returncode in {1, 2}
    assert f"pip install 'cllcds[{extra}]'" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_every_format_option_names_its_formats():
    """No '--format' help is a bare 'Output format.': each names the formats it takes."""
    root: Any = typer.main.get_command(_build(everything=True))
    seen = 0

    def walk(command: Any, path: str) -> None:
        nonlocal seen
        for param in command.params:
            if "--format" in getattr(param, "opts", ()):
                choices = list(getattr(param.type, "choices", ()))
                named = [c for c in choices if c in (param.help or "")]
                assert len(named) >= 2, (path, param.help, choices)
                seen += 1
        ctx = command.context_class(command)
        for name in getattr(command, "list_commands", lambda _: [])(ctx):
            walk(command.get_command(ctx, name), f"{path} {name}")

    walk(root, "cllcds")
    assert seen >= 10
