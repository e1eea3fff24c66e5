"""mbdl_control: model-based deep learning for control, estimation and communications.

Importing the package registers every env under the Gymnasium namespace ``mbdl``.
"""

from mbdl_control import envs
from mbdl_control.agents import Budget, SpectrumInfo
from mbdl_control.evaluation import evaluate
from mbdl_control.models import LinearGaussianModel

__version__ = "0.1.0"

__all__ = ["Budget", "LinearGaussianModel", "SpectrumInfo", "__version__", "envs", "evaluate"]
