"""Project paths, anchored on the project root rather than the working directory.

Papermill kernels and cron jobs run from other folders, so every relative path in
``params.yaml`` is resolved against :data:`PROJECT_ROOT`.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("OKML_ROOT", Path(__file__).resolve().parents[1])).resolve()
DEFAULT_PARAMS = PROJECT_ROOT / "params.yaml"
DATA_DIR = PROJECT_ROOT / "data"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"


def resolve(path: str | os.PathLike[str], root: Path | None = None) -> Path:
    """Return ``path`` as an absolute path, relative paths taken from the project root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (root or PROJECT_ROOT) / p
