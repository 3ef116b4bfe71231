"""Imports go one way: core <- store, processors <- gateways <- the composition root; core needs no libvips."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "core": {"core"},
    "store": {"core", "store"},
    "processors": {"core", "processors"},
    # The checks an upload meets at the edge (reading its header) are media code and live with it.
    "gateways": {"core", "store", "processors", "gateways"},
    "mediaplex": {"core", "store", "processors", "gateways", "mediaplex"},
}


# Image libraries: core is what every role and the admin commands load, and it holds only data and pure checks.
MEDIA_LIBRARIES = {"pyvips", "pillow_heif", "PIL", "av"}


def imports(path: Path) -> set[str]:
    """The top-level names of every module `path` imports absolutely."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names)
    return found


def project_imports(path: Path) -> set[str]:
    return imports(path) & ALLOWED.keys()


def test_imports_go_one_way() -> None:
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            extra = project_imports(path) - allowed
            if extra:
                wrong.append(f"{path.relative_to(ROOT)} imports {sorted(extra)}")
    assert wrong == []


def test_core_imports_no_image_library() -> None:
    wrong = [f"{path.relative_to(ROOT)} imports {sorted(imports(path) & MEDIA_LIBRARIES)}"
             for path in sorted((ROOT / "core").rglob("*.py")) if imports(path) & MEDIA_LIBRARIES]
    assert wrong == []


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from gateways.app import create_app\nimport store.blobs\nimport pyvips\n")
    assert project_imports(bad) == {"gateways", "store"}
    assert imports(bad) & MEDIA_LIBRARIES == {"pyvips"}
