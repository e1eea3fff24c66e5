"""Communication envs: detect transmitted symbols from channel outputs, single and batched."""

from mbdl_control.envs.comms.isi_channel import ISIChannelEnv
from mbdl_control.envs.comms.isi_channel_vector import ISIChannelVectorEnv
from mbdl_control.envs.comms.mimo_detection import MIMODetectionEnv
from mbdl_control.envs.comms.mimo_detection_vector import MIMODetectionVectorEnv

__all__ = ["ISIChannelEnv", "ISIChannelVectorEnv", "MIMODetectionEnv", "MIMODetectionVectorEnv"]
