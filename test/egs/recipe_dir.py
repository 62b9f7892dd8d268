"""A throw-away recipe directory for the stage-script tests (importable by their modules)."""

from __future__ import annotations

from pathlib import Path

# what every egs/<corpus>/ links from egs/TEMPLATE
SCRIPTS = ("lipsound2.sh", "lipreading.sh", "path.sh", "cmd.sh", "db.sh")


def make_recipe(tmp_path: Path, root: Path) -> Path:
    """A recipe dir wired like egs/<corpus>/, at egs/<name>/ of a tree whose tools/venv is the
    installed environment (path.sh finds it two levels up), under paths with a space."""
    top = tmp_path / "lip root"
    (top / "tools").mkdir(parents=True)
    (top / "tools" / "venv").symlink_to((root / "tools" / "venv").resolve())
    (top / "utils").symlink_to(root / "utils")
    recipe = top / "egs" / "my recipe"
    recipe.mkdir(parents=True)
    for name in SCRIPTS:
        (recipe / name).symlink_to(root / "egs" / "TEMPLATE" / name)
    (recipe / "utils").symlink_to(top / "utils")
    return recipe
