"""mbdl_control: model-based deep learning for control, estimation and communications.

Importing the package registers every env under the Gymnasium namespace ``mbdl`` and loads
no learner (no torch, cvxpylayers or stable-baselines3): those load with the agents that
need them.
"""

from mbdl_control import envs
from mbdl_control.core import Budget, SpectrumInfo
from mbdl_control.evaluation.evaluate import evaluate
from mbdl_control.models import LinearGaussianModel

__version__ = "0.1.0"

__all__ = ["Budget", "LinearGaussianModel", "SpectrumInfo", "__version__", "envs", "evaluate"]
