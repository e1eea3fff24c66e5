"""Demos: each domain's classical agents on its envs' nominal models, next to the oracle and
the bound (the ``mbdl-control demo`` command). One module per domain."""
