"""Gymnasium environments, registered under the namespace ``mbdl`` on import."""

import gymnasium as gym

#: every env id this package registers, with its entry point and episode length
ENV_SPECS = {
    "mbdl/LinearQuadratic-v0": ("mbdl_control.envs.control:LinearQuadraticEnv", 100),
    "mbdl/BoxLQR-v0": ("mbdl_control.envs.control:BoxLQREnv", 100),
    "mbdl/LQG-v0": ("mbdl_control.envs.control:LQGEnv", 100),
}


def register_envs() -> None:
    """Register every env of ``ENV_SPECS`` (idempotent)."""
    for env_id, (entry_point, max_episode_steps) in ENV_SPECS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, max_episode_steps=max_episode_steps)


register_envs()

__all__ = ["ENV_SPECS", "register_envs"]
