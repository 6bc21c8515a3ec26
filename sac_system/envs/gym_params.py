"""Generic params: SAC on any registered gymnasium continuous-control env, from the JSON alone.

Config keys (besides "hyperparameters" and "curriculum"):
  "env_id":            a registered gymnasium id with a Box action space (required),
                       e.g. "Pendulum-v1".
  "env_kwargs":        keyword arguments for `gymnasium.make` (both environments).
  "eval_env_kwargs":   keyword arguments for the evaluation environment (default: "env_kwargs").
  "max_episode_steps": overrides the registered time limit.
  "step_latency_seconds": every env step (collection and evaluation) also waits this long
                       without using the CPU, like a real robot or a remote simulator would
                       (default 0): what the worker-scaling benchmark and the multi-host tests
                       run, so that more workers than CPUs pay off.

`set_state` (and so the curriculum) accepts the env's constructor keyword arguments. A MuJoCo
env (HalfCheetah-v5, Hopper-v5, ...) also takes the physics keys of `mujoco_physics.py`
(`mass_scale`, `friction_scale`, `damping_scale` and their randomization), in "env_kwargs",
"eval_env_kwargs" and the curriculum alike (`mujoco_env.py`).
"""

from sac_system.errors import UserInputError
from sac_system.train_params_base import TrainParamsBase
from sac_system.train_params_base import check_env_config


class TrainParams(TrainParamsBase):
  """SAC on the gymnasium env named by the config's "env_id"."""

  ENV_CONFIG_KEYS = frozenset({
      "env_id", "env_kwargs", "eval_env_kwargs", "max_episode_steps", "step_latency_seconds"})
  MAX_STEP_LATENCY_S = 10.0

  def __init__(self, env_config=None, config_path="<config>"):
    super().__init__(env_config, config_path)
    env_id = self.env_config.get("env_id")
    if not isinstance(env_id, str) or not env_id:
      raise UserInputError(
          config_path, "env_id",
          f"expected a registered gymnasium id such as \"Pendulum-v1\", got {env_id!r}")
    import gymnasium
    if env_id not in gymnasium.registry:
      raise UserInputError(config_path, "env_id", f"{env_id!r} is not a registered gymnasium env")
    from sac_system.envs.mujoco_physics import is_mujoco_env
    try:
      self.mujoco = is_mujoco_env(env_id)
    except Exception as error:  # noqa: BLE001  importing the env's module may raise anything
      raise UserInputError(config_path, "env_id", f"loading {env_id!r} raised "
                           f"{type(error).__name__}: {error}") from None
    check_env_config(self, validate_kwargs=self._validate_physics)
    latency = self.env_config.get("step_latency_seconds", 0.0)
    if (isinstance(latency, bool) or not isinstance(latency, (int, float))
        or not 0 <= latency <= self.MAX_STEP_LATENCY_S):
      raise UserInputError(
          config_path, "step_latency_seconds", f"expected seconds from 0 to "
          f"{self.MAX_STEP_LATENCY_S:g}, got {latency!r}")

  def _validate_physics(self, kwargs):
    """Checks the MuJoCo physics keys of an env_kwargs object (the env checks the rest)."""
    from sac_system.envs.mujoco_physics import mujoco_physics
    from sac_system.envs.mujoco_physics import split_settings
    physics, _ = split_settings(kwargs)
    if physics and not self.mujoco:
      raise ValueError(f"{sorted(physics)[0]} applies only to MuJoCo envs and "
                       f"{self.env_config['env_id']} is not one")
    mujoco_physics(self.env_config["env_id"]).validate(physics)

  def env_ctor(self, *args, **kwargs):
    """Builds the env; what it rejects is reported against the config's keys (the launcher
    builds both envs before anything starts), not as a failure of this method."""
    from sac_system.envs.gym_env import GymnasiumEnvironment
    from sac_system.envs.gym_env import UnsupportedEnvError
    from sac_system.envs.mujoco_env import MujocoEnvironment
    try:
      return (MujocoEnvironment if self.mujoco else GymnasiumEnvironment)(*args, **kwargs)
    except UnsupportedEnvError as error:
      raise UserInputError(self.config_path, "env_id", str(error)) from None
    except Exception as error:  # noqa: BLE001  gymnasium and the env's constructor raise many types
      raise UserInputError(
          self.config_path, "env_kwargs", f"{args[0]} rejects {kwargs.get('env_kwargs')}: "
          f"{type(error).__name__}: {error}") from None

  def collect_env_args_kwargs(self):
    return (self.env_config["env_id"],), {
        "env_kwargs": dict(self.env_config.get("env_kwargs", {})),
        "max_episode_steps": self.env_config.get("max_episode_steps"),
        "step_latency_s": float(self.env_config.get("step_latency_seconds", 0.0))}

  def eval_env_args_kwargs(self):
    args, kwargs = self.collect_env_args_kwargs()
    kwargs["env_kwargs"].update(self.env_config.get("eval_env_kwargs", {}))
    return args, kwargs
