"""`TrainParamsBase`: every SAC hyperparameter, the JSON config, and the agent builder.

A params file defines `class TrainParams(TrainParamsBase)` and fills in `env_ctor()`; it may
override `collect_env_args_kwargs()` / `eval_env_args_kwargs()` and any hyperparameter default
(as a plain class attribute). The JSON config (`env_config`) may override hyperparameters by
name under `"hyperparameters"`; unknown names, wrong types and impossible values are a
`UserInputError` naming the config file and the key.

This is the one place that builds the networks and the `SacAgent` (whose `collect_policy`
samples; greedy evaluation wraps its `policy` in tf-agents' `GreedyPolicy`): the learner,
the workers, the replay server (for the table signatures) and run.py all call it.

The module itself is pure: TensorFlow and tf-agents are imported inside the builder methods,
so loading and validating a config does not import TensorFlow.
"""

import importlib.util
import json
import math
import os
import sys
import typing
from typing import Any, Callable, ClassVar, Dict, Optional, Tuple

from sac_system import constants
from sac_system.errors import UserInputError

# Top-level keys of a JSON config that the base class itself understands.
BASE_CONFIG_KEYS = frozenset({"hyperparameters", "curriculum", "eval_follows_curriculum"})


def whole_units(count: int, unit: int) -> int:
  """The fewest whole units of `unit` that hold `count` (at least 1)."""
  return max(1, -(-int(count) // unit))


class TrainParamsBase:
  """SAC hyperparameters and builders. Subclass it as `TrainParams` in a params file."""

  # ----- run ---------------------------------------------------------------------------------
  seed: int = 0
  """Run seed. Worker i seeds its environments and policy sampling from (seed, i)."""

  # ----- networks ----------------------------------------------------------------------------
  actor_fc_layers: Tuple[int, ...] = (256, 256)
  """Hidden layer sizes of the actor (Gaussian policy) network."""
  critic_joint_fc_layers: Tuple[int, ...] = (256, 256)
  """Hidden layer sizes of each of the two critics, applied to concat(observation, action)."""

  # ----- optimisation ------------------------------------------------------------------------
  actor_learning_rate: float = 7.3e-4
  """Adam learning rate of the actor."""
  critic_learning_rate: float = 7.3e-4
  """Adam learning rate of the critics."""
  alpha_learning_rate: float = 7.3e-4
  """Adam learning rate of the entropy temperature log(alpha)."""
  gamma: float = 0.99
  """Discount factor."""
  target_update_tau: float = 0.01
  """Polyak factor of the target critics' soft update."""
  target_update_period: int = 1
  """Train steps between target critic updates."""
  reward_scale_factor: float = 1.0
  """Multiplies rewards in the critic's TD target."""
  target_entropy: Optional[float] = None
  """Entropy target for alpha; None means -dim(A), the SAC paper's heuristic (tf-agents'
  own default is -dim(A)/2, which config/lunar_lander.json sets: benchmarks/README.md)."""
  initial_log_alpha: float = 0.0
  """Initial value of log(alpha)."""
  gradient_clipping: Optional[float] = None
  """Clip gradients to this global norm; None disables clipping."""
  batch_size: int = 256
  """Transitions per minibatch."""

  # ----- replay ------------------------------------------------------------------------------
  replay_capacity: int = 1_000_000
  """Replay table `max_size` in transitions; the oldest are removed first (FIFO)."""
  samples_per_insert: float = 256.0
  """Reverb `SampleToInsertRatio`: times each inserted transition is sampled on average.
  Fixes the update-to-data ratio: gradient steps per env step = samples_per_insert /
  batch_size (256 / 256 = one gradient step per env step)."""
  rate_limiter_slack_items: int = 1000
  """How many transitions inserts may run ahead of, or behind, the exact samples_per_insert
  ratio before Reverb blocks the faster side (the rate limiter's error buffer; rounded up to
  whole items of transitions_per_item transitions)."""
  min_size_to_sample: int = 10_000
  """Warm-up: transitions in the table before the learner samples. Until the learner's
  first update (train_step 0) workers act uniformly at random."""

  # ----- schedule ----------------------------------------------------------------------------
  train_steps_per_iteration: int = 100
  """Gradient steps per learner iteration (the original system's "number of minibatches"); the
  learner pushes weights and train_step to the workers after each iteration. Unit of
  num_iterations, eval_interval and the curriculum's `iters`. The learner runs the steps in
  tf.function calls of at most constants.TRAIN_STEPS_PER_CALL, whatever this is."""
  num_iterations: int = 1500
  """Iterations to train; the run ends at train_step =
  num_iterations * train_steps_per_iteration."""
  collect_steps_per_iteration: int = 50
  """Env steps each worker collects between two pulls of the learner's weights, rounded up
  to whole vector steps of its `envs_per_worker` envs. Each chunk is flushed to Reverb before
  the next; above ~64 unconfirmed items Reverb's writer logs an "alarmingly high" warning on
  every 10th item while the rate limiter holds them."""
  envs_per_worker: int = 1
  """Collection environments each worker steps in lockstep, acting for all of them with one
  batched policy call per vector step. More envs collect faster per CPU, but with the
  update-to-data ratio fixed each env's episode then spans that many times more gradient
  steps: what an action led to reaches the learner later (benchmarks/README.md)."""
  steps_per_item: int = 1
  """Consecutive vector steps of a worker's envs stored as one replay item, which then holds
  `envs_per_worker * steps_per_item` transitions (`replay_buffer.py`). Reverb's cost is per
  item (server memory and one `CreateItem` call whatever its size), so larger items store and
  write a transition much more cheaply (benchmarks/README.md). The learner trains on every
  transition of each item it samples, shuffling the rows of several minibatches' worth of
  items together (`replay_buffer.make_dataset`). Replay sizes, the warm-up and the rate
  limiter's slack stay counted in transitions."""
  shuffle_pool_minibatches: int = 8
  """Minibatches' worth of sampled items whose rows the learner shuffles together before it
  cuts them into minibatches (`replay_buffer.make_dataset`). With items of many transitions
  a small pool makes consecutive gradient steps train on the same few stretches of
  consecutive steps; a pool of P minibatches spreads each item's rows over about P steps, at
  the cost of rows P to 2P gradient steps older than the table when they are used."""
  eval_interval: int = 50
  """Iterations between greedy evaluations on each worker's eval env."""
  eval_episodes: int = 10
  """Episodes per evaluation, on fixed seeds."""

  # ----- checkpoints and reports -------------------------------------------------------------
  policy_checkpoint_interval: int = 10_000
  """Train steps between policy SavedModels (policies/checkpoints/policy_checkpoint_%010d)."""
  learner_checkpoint_interval: int = 10_000
  """Train steps between learner checkpoints (train/checkpoints: weights, optimizers, step)."""
  learner_checkpoint_interval_seconds: float = 120.0
  """A learner checkpoint is also written when this many seconds have passed since the last
  one, which bounds the gradient steps a killed learner loses."""
  replay_checkpoint_interval_seconds: float = 60.0
  """Seconds between Reverb checkpoints of the replay data (also written on SIGTERM): a
  replay server killed, or a head host lost, loses the transitions of about this long. A
  checkpoint costs the server's CPU seconds for a full table and briefly stalls inserts and
  samples (docs/design.md §8.2; measured in benchmarks/README.md)."""
  replay_server_timeout_seconds: float = 300.0
  """How long the learner and the workers wait for an unresponsive replay server (connect,
  weight push and pull, sampling) before they stop with an error naming it; the launcher
  then stops the run (exit 1) instead of waiting forever."""
  summary_interval: int = 1000
  """Train steps between learner reports (metrics.jsonl and TensorBoard)."""

  # Keys a subclass accepts at the top level of its JSON config, besides BASE_CONFIG_KEYS;
  # None accepts any key.
  ENV_CONFIG_KEYS: Optional[frozenset] = frozenset()

  def __init__(self, env_config: Optional[Dict[str, Any]] = None, config_path: str = "<config>"):
    """Builds the params and applies the config's hyperparameter overrides.

    Args:
      env_config: The dict loaded from the JSON config.
      config_path: Its file name, for error messages.

    Raises:
      UserInputError: for an unknown key, an unknown hyperparameter, a wrong type or an
        impossible value.
    """
    self.env_config: Dict[str, Any] = dict(env_config or {})
    self.config_path = config_path
    if self.ENV_CONFIG_KEYS is not None:
      allowed = BASE_CONFIG_KEYS | self.ENV_CONFIG_KEYS
      for key in self.env_config:
        if key not in allowed:
          raise UserInputError(
              config_path, key, f"unknown key for {type(self).__name__}; "
              f"known: {', '.join(sorted(allowed))}")
    follows = self.env_config.get("eval_follows_curriculum", False)
    if not isinstance(follows, bool):
      raise UserInputError(config_path, "eval_follows_curriculum",
                           f"expected true or false, got {follows!r}")
    self.eval_follows_curriculum: bool = follows
    """Whether workers apply the curriculum to their eval env too (config key
    "eval_follows_curriculum"; default false: eval stays on `eval_env_args_kwargs()`)."""
    overrides = self.env_config.get("hyperparameters", {})
    if not isinstance(overrides, dict):
      raise UserInputError(config_path, "hyperparameters", "expected an object of name: value")
    names = hyperparameter_names(type(self))
    for name, value in overrides.items():
      if name not in names:
        import difflib
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "see TrainParamsBase for the names"
        raise UserInputError(config_path, f"hyperparameters.{name}",
                             f"unknown hyperparameter; {hint}")
      setattr(
          self, name,
          _coerce(value,
                  hyperparameter_types(type(self))[name], config_path, f"hyperparameters.{name}"))
    self.validate()

  # ----- validation --------------------------------------------------------------------------
  def validate(self) -> None:
    """Rejects impossible or deadlocking settings.

    Raises:
      UserInputError: naming the config file and the first offending hyperparameter.
    """
    types = hyperparameter_types(type(self))
    for name, annotation in types.items():
      _coerce(getattr(self, name), annotation, self.config_path, f"hyperparameters.{name}")

    def fail(name, problem):
      raise UserInputError(self.config_path, f"hyperparameters.{name}", problem)

    for name in ("batch_size", "replay_capacity", "min_size_to_sample", "target_update_period",
                 "train_steps_per_iteration", "num_iterations", "collect_steps_per_iteration",
                 "eval_interval", "eval_episodes", "policy_checkpoint_interval",
                 "learner_checkpoint_interval", "summary_interval", "rate_limiter_slack_items",
                 "envs_per_worker", "steps_per_item", "shuffle_pool_minibatches"):
      if getattr(self, name) < 1:
        fail(name, f"must be >= 1, got {getattr(self, name)}")
    for name in ("actor_learning_rate", "critic_learning_rate", "alpha_learning_rate",
                 "samples_per_insert", "replay_checkpoint_interval_seconds",
                 "learner_checkpoint_interval_seconds", "replay_server_timeout_seconds"):
      value = getattr(self, name)
      if not (math.isfinite(value) and value > 0):
        fail(name, f"must be a finite number > 0, got {value}")
    if not 0.0 <= self.gamma <= 1.0:
      fail("gamma", f"must be in [0, 1], got {self.gamma}")
    if not 0.0 < self.target_update_tau <= 1.0:
      fail("target_update_tau", f"must be in (0, 1], got {self.target_update_tau}")
    for name in ("actor_fc_layers", "critic_joint_fc_layers"):
      if not getattr(self, name) or min(getattr(self, name)) < 1:
        fail(name, f"must be a non-empty list of layer sizes >= 1, got {getattr(self, name)}")
    if self.gradient_clipping is not None and not self.gradient_clipping > 0:
      fail("gradient_clipping", f"must be > 0 or null, got {self.gradient_clipping}")
    if self.seed < 0 or self.seed >= 2**31:
      fail("seed", f"must be in [0, 2^31), got {self.seed}")
    # Settings under which the replay table could never be sampled: the run would hang.
    if self.min_size_to_sample > self.replay_capacity:
      fail(
          "min_size_to_sample", f"{self.min_size_to_sample} exceeds replay_capacity "
          f"{self.replay_capacity}: the learner would wait forever")
    if self.batch_size > self.replay_capacity:
      fail("batch_size", f"{self.batch_size} exceeds replay_capacity {self.replay_capacity}")
    if self.transitions_per_item > self.replay_capacity:
      fail(
          "steps_per_item", f"envs_per_worker * steps_per_item = {self.transitions_per_item} "
          f"exceeds replay_capacity {self.replay_capacity}: one replay item holds that many "
          "transitions")

  @property
  def total_train_steps(self) -> int:
    """The learner's step budget: the run ends when train_step reaches it."""
    return self.num_iterations * self.train_steps_per_iteration

  def iteration_of(self, train_step: int) -> int:
    """The iteration index that a pulled `train_step` corresponds to."""
    return int(train_step) // self.train_steps_per_iteration

  @property
  def transitions_per_item(self) -> int:
    """Transitions in one replay item: `steps_per_item` vector steps of `envs_per_worker`
    envs (the item format and the table sizes in items: `replay_buffer.py`)."""
    return self.envs_per_worker * self.steps_per_item

  def vector_steps_of(self, env_steps: int) -> int:
    """Vector steps of the worker's envs making at least `env_steps` env steps (at least 1)."""
    return whole_units(env_steps, self.envs_per_worker)

  def hyperparameters(self) -> Dict[str, Any]:
    """All hyperparameters as JSON-ready values (tuples as lists)."""
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in ((n, getattr(self, n)) for n in hyperparameter_names(type(self)))}

  # ----- environments ------------------------------------------------------------------------
  env_class: ClassVar[Optional[Callable]] = None
  """A params file may name its environment instead of writing `env_ctor`: a tf-agents
  `PyEnvironment` class (or any callable returning one), called with the args of
  `collect_env_args_kwargs()` / `eval_env_args_kwargs()`."""
  gym_env_id: ClassVar[Optional[str]] = None
  """... or a registered gymnasium id with a Box action space (e.g. "Pendulum-v1", or an env
  the params file's own folder registers), wrapped as `envs/gym_params.py` does; its
  constructor keyword arguments are what `set_state` and the curriculum change."""

  def env_ctor(self, *args, **kwargs):
    """Builds one environment: a tf-agents `PyEnvironment`. What it must implement and what
    it may (`set_state(dict)` for a curriculum; `seed(int)`, `seed_next_reset`, ...) is
    `env_contract.py`. Called with the args of `collect_env_args_kwargs()` or
    `eval_env_args_kwargs()`. The default builds `env_class` or `gym_env_id`."""
    environment_class = type(self).env_class
    if environment_class is not None:
      return environment_class(*args, **kwargs)
    if self.gym_env_id is not None:
      from sac_system.envs.gym_env import GymnasiumEnvironment
      from sac_system.envs.mujoco_env import MujocoEnvironment
      from sac_system.envs.mujoco_physics import is_mujoco_env
      environment = MujocoEnvironment if is_mujoco_env(self.gym_env_id) else GymnasiumEnvironment
      return environment(self.gym_env_id, *args, **kwargs)
    raise NotImplementedError(f"{type(self).__name__} sets neither env_class nor gym_env_id "
                              "and does not define env_ctor()")

  def collect_env_args_kwargs(self) -> Tuple[tuple, dict]:
    """(args, kwargs) for `env_ctor` when building a worker's collection environment."""
    return (), {}

  def eval_env_args_kwargs(self) -> Tuple[tuple, dict]:
    """(args, kwargs) for `env_ctor` when building a worker's evaluation environment."""
    return self.collect_env_args_kwargs()

  def make_collect_env(self, seed: Optional[int] = None):
    """A collection environment, with the contract's fallbacks (`env_contract.adapt`)."""
    args, kwargs = self.collect_env_args_kwargs()
    return _seeded(self.env_ctor(*args, **kwargs), seed)

  def make_eval_env(self, seed: Optional[int] = None):
    """An evaluation environment, with the contract's fallbacks (`env_contract.adapt`)."""
    args, kwargs = self.eval_env_args_kwargs()
    return _seeded(self.env_ctor(*args, **kwargs), seed)

  # ----- agent -------------------------------------------------------------------------------
  def tensor_specs(self):
    """(observation_spec, action_spec, time_step_spec) as tensor specs, from one env."""
    from tf_agents.train.utils import spec_utils
    env = self.make_collect_env()
    try:
      return spec_utils.get_tensor_specs(env)
    finally:
      env.close()

  def build_agent(self, train_step=None, specs=None):
    """Builds the `SacAgent` (networks, optimizers, policies) from these hyperparameters.

    Args:
      train_step: The int64 `tf.Variable` counting gradient steps; one is created if None.
      specs: (observation_spec, action_spec, time_step_spec); read from an env if None.

    Returns:
      The initialized `tf_agents.agents.sac.sac_agent.SacAgent`. Its `collect_policy` is the
      stochastic policy workers act with; its `policy` samples too (tf-agents' SacAgent), so
      greedy evaluation wraps it in `GreedyPolicy` (the learner's greedy_policy SavedModel,
      the workers' eval policy).
    """
    import tensorflow as tf
    from tf_agents.agents.ddpg import critic_network
    from tf_agents.agents.sac import sac_agent
    from tf_agents.agents.sac import tanh_normal_projection_network
    from tf_agents.networks import actor_distribution_network
    from tf_agents.train.utils import train_utils

    observation_spec, action_spec, time_step_spec = specs or self.tensor_specs()
    if train_step is None:
      train_step = train_utils.create_train_step()
    critic_net = critic_network.CriticNetwork(
        (observation_spec, action_spec), joint_fc_layer_params=tuple(self.critic_joint_fc_layers),
        kernel_initializer="glorot_uniform", last_kernel_initializer="glorot_uniform")
    actor_net = actor_distribution_network.ActorDistributionNetwork(
        observation_spec, action_spec, fc_layer_params=tuple(self.actor_fc_layers),
        continuous_projection_net=tanh_normal_projection_network.TanhNormalProjectionNetwork)
    action_dims = sum(
        int(tf.TensorShape(spec.shape).num_elements()) for spec in tf.nest.flatten(action_spec))
    target_entropy = -float(action_dims) if self.target_entropy is None else self.target_entropy
    agent = sac_agent.SacAgent(
        time_step_spec, action_spec, actor_network=actor_net, critic_network=critic_net,
        actor_optimizer=tf.keras.optimizers.Adam(learning_rate=self.actor_learning_rate),
        critic_optimizer=tf.keras.optimizers.Adam(learning_rate=self.critic_learning_rate),
        alpha_optimizer=tf.keras.optimizers.Adam(learning_rate=self.alpha_learning_rate),
        target_update_tau=self.target_update_tau, target_update_period=self.target_update_period,
        td_errors_loss_fn=tf.math.squared_difference, gamma=self.gamma,
        reward_scale_factor=self.reward_scale_factor, initial_log_alpha=self.initial_log_alpha,
        target_entropy=target_entropy, gradient_clipping=self.gradient_clipping,
        train_step_counter=train_step)
    agent.initialize()
    return agent


def check_env_config(params, kwargs_keys=("env_kwargs", "eval_env_kwargs"),
                     validate_kwargs=None) -> None:
  """Checks the env keys that the shipped params classes share: keyword-argument objects
  (`kwargs_keys`, each passed to `validate_kwargs` when given, which raises ValueError) and
  `max_episode_steps` (a whole number >= 1 when present).

  Raises:
    UserInputError: naming the config file and the key.
  """
  for key in kwargs_keys:
    value = params.env_config.get(key, {})
    if not isinstance(value, dict):
      raise UserInputError(params.config_path, key, "expected an object of keyword arguments")
    if validate_kwargs is not None:
      try:
        validate_kwargs(value)
      except ValueError as error:
        raise UserInputError(params.config_path, key, str(error)) from None
  steps = params.env_config.get("max_episode_steps")
  if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1):
    raise UserInputError(params.config_path, "max_episode_steps",
                         f"expected a whole number >= 1, got {steps!r}")


def _seeded(env, seed):
  from sac_system import env_contract
  env = env_contract.adapt(env)
  if seed is not None:
    env.seed(seed)
  return env


def hyperparameter_types(cls) -> Dict[str, Any]:
  """Hyperparameter name -> type annotation, over the class and its bases."""
  types = {}
  for klass in reversed(cls.__mro__):
    if klass is object:
      continue
    hints = typing.get_type_hints(klass) if "__annotations__" in vars(klass) else {}
    for name, hint in hints.items():
      if typing.get_origin(hint) is typing.ClassVar:
        continue  # what the class builds (env_class, gym_env_id), not a hyperparameter
      if not name.startswith("_") and not name.isupper() and name in vars(klass):
        types[name] = hint
  return types


def hyperparameter_names(cls) -> list:
  return sorted(hyperparameter_types(cls))


def _describe(annotation) -> str:
  origin = typing.get_origin(annotation)
  args = typing.get_args(annotation)
  if origin is typing.Union and type(None) in args:
    return f"{_describe(next(a for a in args if a is not type(None)))} or null"
  if origin in (tuple, Tuple):
    return f"a list of {_describe(args[0])}s"
  return {
      int: "integer",
      float: "number",
      bool: "true/false",
      str: "string"}.get(annotation, str(annotation))


def _coerce(value, annotation, source, key):
  """Checks `value` against a hyperparameter's annotation and converts JSON to Python."""
  origin = typing.get_origin(annotation)
  args = typing.get_args(annotation)
  ok = True
  if origin is typing.Union and type(None) in args:
    if value is None:
      return None
    return _coerce(value, next(a for a in args if a is not type(None)), source, key)
  if origin in (tuple, Tuple):
    if isinstance(value, (list, tuple)):
      return tuple(_coerce(v, args[0], source, key) for v in value)
    ok = False
  elif annotation is bool:
    ok = isinstance(value, bool)
  elif annotation is int:
    ok = isinstance(value, int) and not isinstance(value, bool)
  elif annotation is float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
      value = float(value)
  elif annotation is str:
    ok = isinstance(value, str)
  if not ok:
    raise UserInputError(source, key, f"expected {_describe(annotation)}, got {value!r}")
  return value


def load_config(path: str) -> Dict[str, Any]:
  """Loads a JSON config.

  Raises:
    UserInputError: if the file is missing, unreadable, not JSON, or not a JSON object.
  """
  if not os.path.isfile(path):
    raise UserInputError(path, "", "config file not found")
  try:
    with open(path) as config_file:
      config = json.load(config_file)
  except json.JSONDecodeError as error:
    raise UserInputError(
        path, "", f"malformed JSON at line {error.lineno} column "
        f"{error.colno}: {error.msg}") from None
  except (OSError, UnicodeDecodeError) as error:
    raise UserInputError(path, "", f"cannot read the config: {error}") from None
  if not isinstance(config, dict):
    raise UserInputError(path, "", f"expected a JSON object, got {type(config).__name__}")
  return config


def moved_params_hint(path: str) -> str:
  """For a missing `sac_system/<name>_params.py` that now lives in `sac_system/envs/`: a hint
  naming the new path (the shipped environments moved there); else ""."""
  name = os.path.basename(path)
  moved = os.path.join(constants.REPO_ROOT, "sac_system", "envs", name)
  if os.path.basename(os.path.dirname(
      os.path.abspath(path))) == "sac_system" and os.path.isfile(moved):
    return f"; the shipped environments moved: use {os.path.relpath(moved, constants.REPO_ROOT)}"
  return ""


# Folders of params files that `_import_from_folder_of` put on the import path.
_PARAMS_FOLDERS: list = []


def _import_from_folder_of(path: str) -> None:
  """Makes a params file's own folder importable first, as running the file would: the env
  module beside it imports by its name (in every program that loads the params). A module of
  another params folder named like a file here (two folders' env modules of one name, checked
  in one process by a sweep) is forgotten, so that this folder's own is imported."""
  folder = os.path.dirname(os.path.abspath(path))
  package = os.path.join(constants.REPO_ROOT, "sac_system")
  if os.path.commonpath([folder, package]) == package:
    return  # the shipped params: their modules import as sac_system.envs.*
  if folder in sys.path:
    sys.path.remove(folder)
  sys.path.insert(0, folder)
  others = [other for other in _PARAMS_FOLDERS if other != folder]
  for name, module in list(sys.modules.items()):
    origin = getattr(module, "__file__", None) or ""
    if (os.path.dirname(origin) in others
        and os.path.exists(os.path.join(folder, os.path.basename(origin)))):
      del sys.modules[name]
  if folder not in _PARAMS_FOLDERS:
    _PARAMS_FOLDERS.append(folder)


def load_params_class(path: str):
  """Imports a params file and returns its `TrainParams` class.

  Raises:
    UserInputError: if the file is missing, raises on import, or has no `TrainParams`
      subclass of `TrainParamsBase`.
  """
  if not os.path.isfile(path):
    raise UserInputError(path, "", "params file not found" + moved_params_hint(path))
  _import_from_folder_of(path)
  module_name = "sac_user_params_" + str(abs(hash(os.path.abspath(path))))
  spec = importlib.util.spec_from_file_location(module_name, path)
  if spec is None or spec.loader is None:
    raise UserInputError(path, "", "not an importable Python file")
  module = importlib.util.module_from_spec(spec)
  sys.modules[module_name] = module
  try:
    spec.loader.exec_module(module)
  except Exception as error:  # noqa: BLE001  a user file may raise anything: one line
    del sys.modules[module_name]
    raise UserInputError(path, "", f"importing the params file raised "
                         f"{type(error).__name__}: {error}") from None
  params_class = getattr(module, "TrainParams", None)
  if params_class is None:
    raise UserInputError(path, "TrainParams", "the params file defines no class TrainParams")
  if not (isinstance(params_class, type) and issubclass(params_class, TrainParamsBase)):
    raise UserInputError(path, "TrainParams", "must be a class derived from TrainParamsBase")
  abstract = getattr(params_class, "__abstractmethods__", None)
  if abstract:
    missing = ", ".join(sorted(abstract))
    raise UserInputError(path, "TrainParams", f"does not implement {missing}")
  if (params_class.env_ctor is TrainParamsBase.env_ctor and params_class.env_class is None
      and params_class.gym_env_id is None):
    raise UserInputError(
        path, "TrainParams", "names no environment: set env_class = YourEnvironment (a "
        "PyEnvironment class) or gym_env_id = \"Id-v0\", or define env_ctor(self, *args, "
        "**kwargs) returning the environment")
  if params_class.env_class is not None and not callable(params_class.env_class):
    raise UserInputError(path, "TrainParams.env_class",
                         f"expected a PyEnvironment class, got {params_class.env_class!r}")
  if params_class.gym_env_id is not None:
    import gymnasium
    if not isinstance(params_class.gym_env_id,
                      str) or params_class.gym_env_id not in (gymnasium.registry):
      raise UserInputError(path, "TrainParams.gym_env_id",
                           f"{params_class.gym_env_id!r} is not a registered gymnasium env")
  return params_class


def load_params(params_path: str, config_path: str, seed: Optional[int] = None):
  """Loads `TrainParams` from `params_path` with the JSON config at `config_path`.

  Args:
    params_path: The params file.
    config_path: The JSON config.
    seed: If given, overrides the `seed` hyperparameter (SAC_SEED in the variables file).

  Returns:
    A validated `TrainParams` instance.

  Raises:
    UserInputError: naming the file and key of the first problem found.
  """
  params_class = load_params_class(params_path)
  config = load_config(config_path)
  params = params_class(env_config=config, config_path=config_path)
  if seed is not None:
    params.seed = int(seed)
    params.validate()
  return params
