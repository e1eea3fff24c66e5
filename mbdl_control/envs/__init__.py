"""Gymnasium environments, registered under the namespace ``mbdl`` on import."""

import gymnasium as gym

#: every env id this package registers: its entry point (a class in ``mbdl_control.envs``),
#: its batched ``vector_entry_point`` (or ``None``) and its episode length
ENV_SPECS = {
    "mbdl/LinearQuadratic-v0": (
        "control:LinearQuadraticEnv",
        "control:LinearQuadraticVectorEnv",
        100,
    ),
    "mbdl/BoxLQR-v0": ("control:BoxLQREnv", "control:BoxLQRVectorEnv", 100),
    "mbdl/LQG-v0": ("control:LQGEnv", "control:LQGVectorEnv", 100),
    "mbdl/CartPole-v0": ("control:CartPoleEnv", "control:CartPoleVectorEnv", 100),
    "mbdl/SupplyChain-v0": ("control:SupplyChainEnv", "control:SupplyChainVectorEnv", 20),
    "mbdl/VehiclePathTracking-v0": (
        "control:VehiclePathTrackingEnv",
        "control:VehiclePathTrackingVectorEnv",
        100,
    ),
    "mbdl/LinearTracking-v0": (
        "estimation:LinearTrackingEnv",
        "estimation:LinearTrackingVectorEnv",
        100,
    ),
    "mbdl/Lorenz-v0": ("estimation:LorenzEnv", "estimation:LorenzVectorEnv", 100),
    "mbdl/ISIChannel-v0": ("comms:ISIChannelEnv", "comms:ISIChannelVectorEnv", 1),
    "mbdl/MIMODetection-v0": ("comms:MIMODetectionEnv", "comms:MIMODetectionVectorEnv", 1),
    "mbdl/SparseRecovery-v0": ("inverse:SparseRecoveryEnv", "inverse:SparseRecoveryVectorEnv", 1),
    "mbdl/SuperResolution-v0": (
        "inverse:SuperResolutionEnv",
        "inverse:SuperResolutionVectorEnv",
        1,
    ),
}


def register_envs() -> None:
    """Register every env of ``ENV_SPECS`` (idempotent)."""
    for env_id, (entry_point, vector_entry_point, max_episode_steps) in ENV_SPECS.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point=f"mbdl_control.envs.{entry_point}",
                vector_entry_point=vector_entry_point and f"mbdl_control.envs.{vector_entry_point}",
                max_episode_steps=max_episode_steps,
            )


register_envs()

__all__ = ["ENV_SPECS", "register_envs"]
