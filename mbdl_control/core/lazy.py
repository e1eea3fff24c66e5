"""Lazy package attributes (PEP 562), so that importing a package loads no heavy dependency.

``import mbdl_control`` must stay light (no torch, cvxpylayers or stable-baselines3): a package
whose public names live in heavy modules lists them here and imports a module only when one of
its names is first used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, names: dict[str, str]) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package`` whose attribute ``name`` is the attribute of
    the same name in module ``names[name]`` (relative to ``package`` when it starts with ``.``)."""

    def attribute(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(names[name], package), name)

    def listing() -> list[str]:
        return sorted(names)

    return attribute, listing
