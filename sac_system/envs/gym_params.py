"""Generic params: SAC on any registered gymnasium continuous-control env, from the JSON alone.

Config keys (besides "hyperparameters" and "curriculum"):
  "env_id":            a registered gymnasium id with a Box action space (required),
                       e.g. "Pendulum-v1".
  "env_kwargs":        keyword arguments for `gymnasium.make` (both environments).
  "eval_env_kwargs":   keyword arguments for the evaluation environment (default: "env_kwargs").
  "max_episode_steps": overrides the registered time limit.

`set_state` (and so the curriculum) accepts the env's constructor keyword arguments.
"""

from sac_system.errors import UserInputError
from sac_system.train_params_base import TrainParamsBase
from sac_system.train_params_base import check_env_config


class TrainParams(TrainParamsBase):
  """SAC on the gymnasium env named by the config's "env_id"."""

  ENV_CONFIG_KEYS = frozenset({"env_id", "env_kwargs", "eval_env_kwargs", "max_episode_steps"})

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
    check_env_config(self)

  def env_ctor(self, *args, **kwargs):
    """Builds the env; what it rejects is reported against the config's keys (the launcher
    builds both envs before anything starts), not as a failure of this method."""
    from sac_system.envs.gym_env import GymnasiumEnvironment
    from sac_system.envs.gym_env import UnsupportedEnvError
    try:
      return GymnasiumEnvironment(*args, **kwargs)
    except UnsupportedEnvError as error:
      raise UserInputError(self.config_path, "env_id", str(error)) from None
    except Exception as error:  # noqa: BLE001  gymnasium and the env's constructor raise many types
      raise UserInputError(
          self.config_path, "env_kwargs", f"{args[0]} rejects {kwargs.get('env_kwargs')}: "
          f"{type(error).__name__}: {error}") from None

  def collect_env_args_kwargs(self):
    return (self.env_config["env_id"],), {
        "env_kwargs": dict(self.env_config.get("env_kwargs", {})),
        "max_episode_steps": self.env_config.get("max_episode_steps")}

  def eval_env_args_kwargs(self):
    args, kwargs = self.collect_env_args_kwargs()
    kwargs["env_kwargs"].update(self.env_config.get("eval_env_kwargs", {}))
    return args, kwargs
