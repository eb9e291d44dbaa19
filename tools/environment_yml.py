"""Write environment.yml from uv.lock: the direct dependencies of pyproject.toml (runtime, dev
and lab groups) pinned to the exact versions the lock has tested.

    python tools/environment_yml.py          # rewrite environment.yml
    python tools/environment_yml.py --check  # exit 1 if it is out of date (the tests do this)
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = """\
# conda users: `conda env create -f environment.yml && conda activate okml && pip install -e . --no-deps`
# Generated from uv.lock by tools/environment_yml.py: do not edit (tests check it is current).
name: okml
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
"""


def _name(requirement: str) -> str:
    return re.split(r"[\s=<>!~;\[]", requirement, maxsplit=1)[0].lower()


def render(root: Path = ROOT) -> str:
    """The text environment.yml should hold."""
    project = tomllib.loads((root / "pyproject.toml").read_text())
    lock = {p["name"]: p["version"] for p in tomllib.loads((root / "uv.lock").read_text())["package"]}
    names = [_name(r) for r in project["project"]["dependencies"]]
    for group in project.get("dependency-groups", {}).values():
        names += [_name(r) for r in group if isinstance(r, str)]
    missing = [n for n in names if n not in lock]
    if missing:
        raise SystemExit(f"uv.lock has no {', '.join(missing)}: run `.tools/bin/uv lock` first")
    return HEADER + "".join(f"      - {n}=={lock[n]}\n" for n in dict.fromkeys(names))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if out of date")
    args = parser.parse_args(argv)
    path = ROOT / "environment.yml"
    text = render()
    if args.check:
        if path.read_text() != text:
            print(f"{path} is out of date: run python tools/environment_yml.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
