"""A params file without the TrainParams class."""
from sac_system.envs.gym_params import TrainParams as GenericParams

Params = GenericParams
