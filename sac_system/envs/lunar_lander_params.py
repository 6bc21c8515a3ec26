"""Default params: SAC on continuous Lunar Lander (`LunarLanderContinuous-v3`).

Config keys (besides "hyperparameters", "curriculum" and "eval_follows_curriculum"):
  "env_kwargs":        physics of both environments: gravity, enable_wind, wind_power,
                       turbulence_power (gymnasium's defaults: -10.0, false, 15.0, 1.5), and
                       their per-episode randomization: <p>_spread, <p>_distribution,
                       wind_probability (see `lunar_lander_physics.py`; default: none).
  "eval_env_kwargs":   settings of the evaluation environment (default: "env_kwargs").
  "max_episode_steps": time limit (default: gymnasium's 1000).
Every key of "env_kwargs" is also a `set_state` key, so a curriculum can move it (e.g. widen
`gravity_spread`): see config/lunar_lander_dr.json.
"""

from sac_system.envs.lunar_lander_physics import LUNAR_LANDER
from sac_system.envs.physics import PhysicsEnvParams


class TrainParams(PhysicsEnvParams):
  """SAC on continuous Lunar Lander. The base class's defaults (10k random warm-up, lr
  7.3e-4, tau 0.01) hold; config/lunar_lander.json sets (128, 128) networks, batch 128, two
  env steps per gradient step, target entropy -1 (-dim(A)/2) and items of 32 steps (why:
  docs/design.md §10)."""

  PHYSICS = LUNAR_LANDER

  def env_ctor(self, *args, **kwargs):
    from sac_system.envs.lunar_lander_env import LunarLanderEnvironment
    return LunarLanderEnvironment(*args, **kwargs)
