"""TrainParams whose env_ctor fails."""
from sac_system.train_params_base import TrainParamsBase


class TrainParams(TrainParamsBase):
  ENV_CONFIG_KEYS = None  # accepts any config keys; only its env fails

  def env_ctor(self, *args, **kwargs):
    raise OSError("simulator license server unreachable")
