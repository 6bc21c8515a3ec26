"""TrainParams that names no environment (no env_ctor, env_class or gym_env_id)."""
from sac_system.train_params_base import TrainParamsBase


class TrainParams(TrainParamsBase):
  batch_size = 64
