"""Quadratic programs: the parametric QP solved by DAQP, and exact differentiable QP layers.

Loaded lazily: the DAQP path needs no torch.
"""

from mbdl_control.core.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ParametricQP": ".parametric_qp",
        "box_qp": ".box_qp",
        "polytope_qp": ".polytope_qp",
    },
)
__all__ = ["ParametricQP", "box_qp", "polytope_qp"]
