"""TrainParams without env_ctor."""
from sac_system.train_params_base import TrainParamsBase


class TrainParams(TrainParamsBase):
  batch_size = 64
