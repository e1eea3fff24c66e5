"""``python -m mbdl_control`` is the ``mbdl-control`` command."""

from mbdl_control.cli import app

app()
