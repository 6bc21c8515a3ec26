"""TrainParams that does not derive from TrainParamsBase."""


class TrainParams:
  batch_size = 64
