"""A params file without the TrainParams class."""
from sac_system.gym_params import TrainParams as GenericParams

Params = GenericParams
