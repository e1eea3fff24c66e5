"""The spectrum from model-based to data-driven: the families and the kinds of model knowledge."""

from __future__ import annotations

from dataclasses import dataclass

#: the families of the spectrum, from purely model-based to purely data-driven
FAMILIES = ("model-based", "learned-optimizer", "deep-unfolding", "dnn-aided", "deep-learning")
#: how much of the model an agent relies on, from most to least
KNOWLEDGE = ("true", "nominal", "structure", "none")


@dataclass(frozen=True)
class SpectrumInfo:
    """Where an agent sits: its family, the model knowledge it uses, the parameters it learns."""

    family: str
    knowledge: str
    n_parameters: int

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if self.knowledge not in KNOWLEDGE:
            raise ValueError(f"knowledge must be one of {KNOWLEDGE}, got {self.knowledge!r}")
        if self.n_parameters < 0:
            raise ValueError(f"n_parameters must be >= 0, got {self.n_parameters}")
