"""The check every agent makes of what the harness hands it: the kind of model it is built on."""

from __future__ import annotations

from typing import TypeVar

Kind = TypeVar("Kind")


def required(owner: str, given: object, kind: type[Kind], source: str) -> Kind:
    """``given``, or a ``TypeError`` saying that ``owner`` is built on a ``kind`` (found in
    ``source``: an env's models, its ``structure()``)."""
    if not isinstance(given, kind):
        article = "an" if kind.__name__[0] in "AEIOU" else "a"
        raise TypeError(
            f"{owner} is built on {article} {kind.__name__} ({source}), got {type(given).__name__}"
        )
    return given
