"""Communication envs: detect transmitted symbols from channel outputs, single and batched."""

from mbdl_control.envs.comms.isi_channel import ISIChannelEnv
from mbdl_control.envs.comms.isi_channel_vector import ISIChannelVectorEnv

__all__ = ["ISIChannelEnv", "ISIChannelVectorEnv"]
