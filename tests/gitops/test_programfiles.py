"""Which files are the Pulumi program: read from the import statements, checked against a real run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from orchestrator.adapters.programfiles import PACKAGES, program_fingerprint, program_modules
from orchestrator.core import gitops

ROOT = Path(__file__).resolve().parents[2]


def _tree(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(textwrap.dedent(text))


def test_imports_at_any_depth_relative_and_inside_functions_count(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "stacks/__init__.py": "",
            "stacks/program.py": """
            from typing import TYPE_CHECKING
            from orchestrator.core import naming
            from .components import app
            if TYPE_CHECKING:
                from orchestrator.services import only_for_types
            def main():
                from orchestrator.adapters.cloud.credentials import check_scoped
        """,
            "stacks/components/__init__.py": "",
            "stacks/components/app.py": "import orchestrator.core.sizing\n",
            "orchestrator/__init__.py": "",
            "orchestrator/core/__init__.py": "",
            "orchestrator/core/naming.py": "from . import words\n",
            "orchestrator/core/words.py": "",
            "orchestrator/core/sizing.py": "",
            "orchestrator/core/unused.py": "",
            "orchestrator/adapters/__init__.py": "",
            "orchestrator/adapters/cloud/__init__.py": "",
            "orchestrator/adapters/cloud/credentials.py": "import json\n",
            "orchestrator/services/__init__.py": "",
            "orchestrator/services/only_for_types.py": "",
        },
    )
    assert program_modules(tmp_path) == {
        "stacks/__init__.py",
        "stacks/program.py",
        "stacks/components/__init__.py",
        "stacks/components/app.py",
        "orchestrator/__init__.py",
        "orchestrator/core/__init__.py",
        "orchestrator/core/naming.py",
        "orchestrator/core/words.py",
        "orchestrator/core/sizing.py",
        "orchestrator/adapters/__init__.py",
        "orchestrator/adapters/cloud/__init__.py",
        "orchestrator/adapters/cloud/credentials.py",
    }


def test_a_change_to_a_module_the_program_imports_touches_every_stack() -> None:
    program = program_modules(ROOT)
    # Modules the hand-written list of the past missed: the grants, the platform, the credentials check.
    for module in (
        "orchestrator/core/access.py",
        "orchestrator/core/platform.py",
        "orchestrator/adapters/cloud/credentials.py",
    ):
        assert module in program
        [(_, rule)] = gitops.shared_hits([module], program)
        assert rule.affects == "program" and gitops.is_program(module, program)
    assert gitops.shared_hits(["orchestrator/cli/lifecycle.py", "docs/gitops.md"], program) == []


def test_the_fingerprint_moves_with_an_imported_module_and_nothing_else(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "stacks/program.py": "def main():\n    from orchestrator import access\n",
            "orchestrator/__init__.py": "",
            "orchestrator/access.py": "ROLE = 'member'\n",
            "orchestrator/cli.py": "",
            "Pulumi.yaml": "name: govcloud\n",
            "templates/cloud-init/user-data.yaml.j2": "#cloud-config\n",
            "quotas/policy.yaml": "limits: {}\n",
            "docs/readme.md": "words\n",
            "stacks/__pycache__/program.cpython-311.pyc": "bytecode",
        },
    )
    first = program_fingerprint(tmp_path)
    assert first.startswith("sha256:")
    for path in (
        "docs/readme.md",
        "quotas/policy.yaml",
        "orchestrator/cli.py",
        "stacks/__pycache__/program.cpython-311.pyc",
    ):
        (tmp_path / path).write_text("changed\n")
        assert program_fingerprint(tmp_path) == first, f"{path} is not the program"
    for path in ("orchestrator/access.py", "Pulumi.yaml", "templates/cloud-init/user-data.yaml.j2"):
        (tmp_path / path).write_text("changed\n")
        assert program_fingerprint(tmp_path) != first, f"{path} is the program"
        first = program_fingerprint(tmp_path)


#: Runs the real program (``stacks.program.main``, as ``pulumi up`` would) under the mock runtime
#: in a fresh interpreter and prints every project file whose code ran, imports included.
_TRACE = """
import json, sys, threading
ran = set()
def profile(frame, event, arg):
    ran.add(frame.f_code.co_filename)
sys.setprofile(profile); threading.setprofile(profile)
from orchestrator.adapters.pulumimock import run_program
from orchestrator.core.validation import load_manifest
manifest = sys.argv[1]
app = load_manifest(manifest)
env = next(iter(app.environments)).value
config = {"govcloud:manifest": manifest, "govcloud:environment": env, "govcloud:digest": app.digest,
          "govcloud:externalNetwork": "public", "govcloud:authRealm": "gov",
          "keycloak:url": "https://sso.invalid", "keycloak:clientId": "c", "keycloak:clientSecret": "s"}
import stacks.program
run_program(stacks.program.main, project="govcloud", stack="rsj.app." + env, config=config, preview=True)
sys.setprofile(None); threading.setprofile(None)
print(json.dumps(sorted(ran)))
"""
#: The code that runs the program, not part of it.
HARNESS = {
    f"orchestrator/adapters/pulumimock/{m}.py" for m in ("__init__", "runtime", "shortcuts", "patches", "forkpool")
}


def test_every_project_file_that_runs_with_the_program_is_counted() -> None:
    manifest = ROOT / "examples" / "manifests" / "social-security.yaml"
    out = subprocess.run(
        [sys.executable, "-c", _TRACE, str(manifest)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    ran = {Path(f).resolve() for f in json.loads(out.stdout.splitlines()[-1]) if f.endswith(".py")}
    project = {
        p.relative_to(ROOT).as_posix() for p in ran if any(p.is_relative_to(ROOT / package) for package in PACKAGES)
    }
    assert "stacks/program.py" in project and "orchestrator/core/naming.py" in project, project
    missing = project - HARNESS - program_modules(ROOT)
    assert not missing, f"the program ran these modules, but they are not counted as the program: {missing}"


def test_the_fingerprint_is_computed_from_several_threads_at_once() -> None:
    """gitops apply runs up in threads, and each records the program it ran."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda _: program_fingerprint(ROOT), range(8)))
    assert len(set(found)) == 1 and found[0].startswith("sha256:")
