"""SAC on the point mass: the params file of examples/point_mass (docs/your_own_environment.md).

The module beside this file imports by its name: sac_system puts a params file's own folder
on the import path, in the launcher and in every program it starts.
"""

from point_mass_env import PointMassEnv

from sac_system.train_params_base import TrainParamsBase


class TrainParams(TrainParamsBase):
  # Hyperparameters: any of TrainParamsBase's, as class attributes; the JSON config's
  # "hyperparameters" override them. A small task: small networks, a short warm-up.
  actor_fc_layers = (64, 64)
  critic_joint_fc_layers = (64, 64)
  batch_size = 128
  samples_per_insert = 128.0
  min_size_to_sample = 1000

  def env_ctor(self, *args, **kwargs):
    """One environment, built with the args of collect_env_args_kwargs() (collection) or
    eval_env_args_kwargs() (evaluation). `env_class = PointMassEnv` says the same."""
    return PointMassEnv(*args, **kwargs)

  def collect_env_args_kwargs(self):
    # Collection randomizes the mass by +-30 % per episode; evaluation keeps it at 1.
    return (), {"mass_spread": 0.3}

  def eval_env_args_kwargs(self):
    return (), {}
