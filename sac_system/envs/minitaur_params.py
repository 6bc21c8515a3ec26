"""Params: SAC on pybullet's Minitaur quadruped, the original system's example environment.

Config keys (besides "hyperparameters", "curriculum" and "eval_follows_curriculum"):
  "env_kwargs":        physics of both environments: mass (payload, kg), friction (feet),
                       motor_damping (N·m·s/rad), battery_voltage (V), and their per-episode
                       randomization <p>_spread / <p>_distribution (`minitaur_physics.py`).
  "eval_env_kwargs":   settings of the evaluation environment (default: "env_kwargs").
  "max_episode_steps": time limit in steps of 10 ms (default 1000: 10 s).
Every key of "env_kwargs" is also a `set_state` key, so a curriculum can move it:
config/minitaur.json carries the original README's mass/friction curriculum.

The defaults below are chosen for wall time on a small CPU machine; why, and what they
reached: docs/results.md, "Minitaur" and benchmarks/README.md.
"""

from typing import Tuple

from sac_system.envs.minitaur_physics import MINITAUR
from sac_system.envs.physics import PhysicsEnvParams


class TrainParams(PhysicsEnvParams):
  """SAC on Minitaur: 1000-step episodes, the original system's learning rates and tau."""

  PHYSICS = MINITAUR
  actor_fc_layers: Tuple[int, ...] = (256, 256)
  critic_joint_fc_layers: Tuple[int, ...] = (256, 256)
  actor_learning_rate: float = 3e-4
  critic_learning_rate: float = 3e-4
  alpha_learning_rate: float = 3e-4
  target_update_tau: float = 0.005

  def env_ctor(self, *args, **kwargs):
    from sac_system.envs.minitaur_env import MinitaurEnvironment
    return MinitaurEnvironment(*args, **kwargs)
