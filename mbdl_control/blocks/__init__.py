"""The model-based building blocks, each written once and shared by every family that uses it.

A family differs from another by what it learns, not by its own copy of the math: the Kalman
predict/update (:mod:`.kalman`) serves the model-based filter, the learned-noise filter and
a learned-gain filter; the convex control policy (:mod:`.convex_policy`) is solved by DAQP
for a model-based agent and differentiated through for a learned one; the quadratic programs
(:mod:`.qp`), Riccati solutions, performance bounds, identification, the linear MPC problem
and the closed-loop simulator likewise. Blocks import only ``core`` and ``models``, and this
package imports none of them (torch and cvxpy load only with the block that needs them).
"""
