"""The one YAML reader: every config the project reads itself goes through :func:`load_yaml`."""

from __future__ import annotations

import os
from typing import Any

import yaml


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML mapping read with ``yaml.safe_load``; an empty file is ``{}``.

    Raises ``ValueError`` naming the file when it does not parse or its top level is not a
    mapping (a list or a bare value is always a mistake in a config).
    """
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data
