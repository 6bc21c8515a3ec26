"""What sac_system needs of an environment, what it uses when present, and what it does when
an optional method is absent (docs/your_own_environment.md).

The original contract is a tf-agents `PyEnvironment` (`observation_spec`, `action_spec`,
`_reset`, `_step`) with `set_state(dict)` for the curriculum. The system also uses `seed`,
`seed_next_reset`, `validate_state`, `state_keys`, `episode_metrics`, `enable_rendering` and
`render` where the environment has them; `adapt` wraps an environment lacking any of them in
`ContractEnvironment`, which supplies the fallback listed in `OPTIONAL`. `check_environment`
is what the launcher runs on every environment before any process starts (one reset and one
step against the specs; every curriculum value tried), and `describe` is what
`sac_system/check_env.py` prints.

Imports tf-agents' environment classes (not TensorFlow's runtime: no op runs here).
"""

import re
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np
from tf_agents.environments import py_environment
from tf_agents.environments import wrappers
from tf_agents.specs import array_spec

from sac_system.errors import UserInputError

# Methods an environment must have: name -> what it is for.
REQUIRED = {
    "observation_spec": "the shape and dtype of observations (one float array): the networks' "
                        "input",
    "action_spec": "a bounded float array: SAC squashes its actions into these bounds",
    "_reset": "starts an episode and returns ts.restart(observation)",
    "_step": "applies one action and returns ts.transition, ts.termination or ts.truncation"}
# Required only when the run changes environment parameters (a curriculum, a robustness grid).
SET_STATE = ("set_state", "changes environment parameters (its argument a dict): what the "
             "curriculum and robustness grids call")
# Optional methods: name -> (what it buys, what happens without it).
OPTIONAL = {
    "seed": ("seed(int) seeds the env's random stream: each worker's collection differs and is "
             "reproducible", "episodes are not seeded, so evaluations are not reproducible"),
    "seed_next_reset": ("seed_next_reset(int) fixes the next episode's seed: every evaluation "
                        "plays the same episodes", "seed(int) before each evaluation episode "
                        "when the env has it, else unseeded episodes"),
    "validate_state": ("validate_state(dict) checks parameters without applying them, raising "
                       "ValueError naming the bad one", "every curriculum and grid value is "
                       "tried with set_state on a throwaway env before anything starts"),
    "state_keys": ("state_keys() lists the keys set_state accepts: robustness grids fix a "
                   "gridded parameter's '<name>_spread' key", "no keys are known"),
    "episode_metrics": ("episode_metrics() returns numbers about the episode that just ended "
                        "(e.g. distance walked), reported beside the return", "the return and "
                        "length only"),
    "enable_rendering": ("enable_rendering() switches rendering on before a video, for envs "
                         "that render only when asked", "render() is called as it is"),
    "render": ("render() returns an RGB frame (height x width x 3 uint8): run.py's videos",
               "run.py writes no video and says why")}
# Optional methods `ContractEnvironment` supplies; an env having all of them is used as it is.
ADAPTED = ("seed", "seed_next_reset", "validate_state", "state_keys", "episode_metrics",
           "enable_rendering")
_ABSTRACT = re.compile(r"Can't instantiate abstract class (\w+) with abstract methods? (.+)")


def unwrapped(env):
  """The user's environment inside a `ContractEnvironment` (else `env` itself)."""
  return env.wrapped_env() if isinstance(env, ContractEnvironment) else env


def implements(env, name: str) -> bool:
  """Whether `env` has its own `name`, not `PyEnvironment`'s stub that raises
  NotImplementedError (seed, render, set_state and get_state have such stubs)."""
  method = getattr(type(unwrapped(env)), name, None)
  if method is None:
    return False
  return method is not getattr(py_environment.PyEnvironment, name, None)


class ContractEnvironment(wrappers.PyEnvironmentBaseWrapper):
  """An environment with every method of `ADAPTED`: the env's own where it has one, else the
  fallback of `OPTIONAL`. Everything else (set_state, render, attributes) goes to the env."""

  def __init__(self, env):
    super().__init__(env)
    self.missing: List[str] = missing_optional(env)

  def seed(self, seed):
    if "seed" in self.missing:
      return None
    try:
      return self._env.seed(seed)
    except NotImplementedError:  # a wrapper of the user's passing on PyEnvironment's stub
      self.missing.append("seed")
      return None

  def seed_next_reset(self, seed: int) -> None:
    if "seed_next_reset" not in self.missing:
      self._env.seed_next_reset(seed)
    else:
      self.seed(seed)

  def validate_state(self, state: Dict[str, Any]) -> Dict[str, Any]:
    if "validate_state" not in self.missing:
      return self._env.validate_state(state)
    if not isinstance(state, dict):
      raise TypeError(f"set_state takes a dict, got {type(state).__name__}")
    return dict(state)

  def set_state(self, state: Any) -> None:
    if not implements(self._env, "set_state"):
      raise NotImplementedError(f"{type(self._env).__name__} does not implement set_state(dict)")
    self._env.set_state(state)

  def state_keys(self) -> List[str]:
    return [] if "state_keys" in self.missing else list(self._env.state_keys())

  def episode_metrics(self) -> Dict[str, float]:
    return {} if "episode_metrics" in self.missing else dict(self._env.episode_metrics())

  def enable_rendering(self) -> None:
    if "enable_rendering" not in self.missing:
      self._env.enable_rendering()

  def render(self, mode: str = "rgb_array"):
    return self._env.render(mode)


def adapt(env):
  """`env` itself when it has every method of `ADAPTED`, else `ContractEnvironment(env)`."""
  if isinstance(env, ContractEnvironment) or all(implements(env, name) for name in ADAPTED):
    return env
  return ContractEnvironment(env)


def missing_optional(env) -> List[str]:
  """The optional methods (`OPTIONAL`) `env` does not implement."""
  return [name for name in OPTIONAL if not implements(env, name)]


def seeded(env) -> bool:
  """Whether the environment's episodes can be seeded (seed or seed_next_reset)."""
  return implements(env, "seed") or implements(env, "seed_next_reset")


def fallback_warnings(env) -> List[str]:
  """One line per fallback in use that changes what a user gets (unseeded episodes)."""
  lines = []
  if not seeded(env):
    lines.append("the environment has no seed(int) or seed_next_reset(int): collection and "
                 "evaluation episodes are not seeded, so evaluations are not reproducible")
  return lines


def abstract_method_problem(error: BaseException) -> Optional[str]:
  """For the TypeError of instantiating a PyEnvironment that lacks a required method: what
  is missing and what it is for; else None."""
  match = _ABSTRACT.match(str(error)) if isinstance(error, TypeError) else None
  if not match:
    return None
  names = [name.strip(" '") for name in match.group(2).split(",")]
  described = "; ".join(f"{name}: {REQUIRED.get(name, 'required by PyEnvironment')}"
                        for name in names)
  return f"the environment class {match.group(1)} does not implement {described}"


def leaves(nest) -> list:
  """The leaves of a nest (a spec, an observation), in tf.nest's order."""
  import tree
  return tree.flatten(nest)


def spec_problems(env) -> List[str]:
  """What makes `env`'s specs unusable for SAC, as short sentences (empty: none)."""
  problems = []
  observations = leaves(env.observation_spec())
  if len(observations) != 1:
    problems.append(f"observation_spec must be one array spec, got {len(observations)} leaves")
  elif not np.issubdtype(observations[0].dtype, np.floating):
    problems.append(f"observation_spec must have a float dtype, got {observations[0].dtype}")
  actions = leaves(env.action_spec())
  if len(actions) != 1:
    problems.append(f"action_spec must be one array spec, got {len(actions)} leaves")
    return problems
  action = actions[0]
  if not isinstance(action, array_spec.BoundedArraySpec):
    problems.append("action_spec must be a BoundedArraySpec (SAC squashes actions into its "
                    "bounds)")
  elif not np.issubdtype(action.dtype, np.floating):
    problems.append(f"action_spec must have a float dtype (continuous actions), got "
                    f"{action.dtype}")
  elif not (np.all(np.isfinite(action.minimum)) and np.all(np.isfinite(action.maximum))
            and np.all(np.asarray(action.minimum) < np.asarray(action.maximum))):
    problems.append(f"action_spec bounds must be finite with minimum < maximum, got "
                    f"[{action.minimum}, {action.maximum}]")
  return problems


def time_step_problems(env, time_step, what: str) -> List[str]:
  """What is wrong with a time step `env` returned from `what` ("reset()", "step()")."""
  problems = []
  spec = leaves(env.observation_spec())[0]
  observation = np.asarray(leaves(time_step.observation)[0])
  if observation.shape != tuple(spec.shape):
    problems.append(f"{what} returned an observation of shape {observation.shape}; "
                    f"observation_spec says {tuple(spec.shape)}")
  elif not np.all(np.isfinite(observation.astype(np.float64))):
    problems.append(f"{what} returned a non-finite observation {observation}")
  reward = np.asarray(time_step.reward)
  if reward.size != 1 or not np.isfinite(float(reward.reshape(-1)[0])):
    problems.append(f"{what} returned reward {time_step.reward!r}; expected one finite number")
  return problems


def random_action(env, rng: np.random.Generator):
  spec = leaves(env.action_spec())[0]
  return rng.uniform(spec.minimum, spec.maximum, spec.shape).astype(spec.dtype)


def try_state(env, state: Dict[str, Any], rng: Optional[np.random.Generator] = None) -> None:
  """Applies `state` to `env` (the environment's own validate_state first, when it has one),
  then resets it and takes one random step, so that a value applied lazily (at the next
  reset) is exercised too. Raises whatever the environment raises."""
  if implements(env, "validate_state"):
    env.validate_state(state)
  env.set_state(state)
  env.reset()
  env.step(random_action(env, rng or np.random.default_rng(0)))


def check_states(env, make_env: Callable, states: Iterable[Tuple[str, Dict[str, Any]]], source: str,
                 params_path: str) -> None:
  """Checks that the environment accepts each (key, state): with `env`'s validate_state when
  it has one, else by applying the state with set_state on a throwaway env from `make_env`
  (then a reset and one step), so that `env` itself is never changed.

  Raises:
    UserInputError: naming `source` and the key of the first state the environment rejects, or
      `params_path` when the environment has no set_state.
  """
  states = list(states)
  if not states:
    return
  if not implements(env, "set_state"):
    keys = ", ".join(sorted({key for key, _ in states}))
    raise UserInputError(
        params_path, "TrainParams.env_ctor", f"the environment does not implement "
        f"set_state(dict), which {keys} need{'s' if ',' not in keys else ''}: it "
        f"{SET_STATE[1]}")
  validating = implements(env, "validate_state")
  target = env if validating else make_env()
  rng = np.random.default_rng(0)
  try:
    for key, state in states:
      try:
        if validating:
          target.validate_state(state)
        else:
          try_state(target, state, rng)
      except UserInputError:
        raise
      except Exception as error:  # noqa: BLE001  the user's set_state may raise anything
        detail = str(error) if validating and isinstance(error, (ValueError, TypeError)) else (
            f"set_state({state}) raised {type(error).__name__}: {error}")
        raise UserInputError(source, key, detail) from None
  finally:
    if target is not env:
      target.close()


def check_environment(env, params_path: str, role: str) -> None:
  """What the launcher checks of a built environment before any process starts: usable specs,
  then one reset and one random step whose observations and reward fit them.

  Raises:
    UserInputError: naming `params_path` and TrainParams.env_ctor.
  """

  def fail(problem: str):
    raise UserInputError(params_path, "TrainParams.env_ctor", f"the {role} environment: {problem}")

  problems = spec_problems(env)
  if problems:
    fail(problems[0])
  for what, act in (("reset()", env.reset),
                    ("step()", lambda: env.step(random_action(env, np.random.default_rng(0))))):
    try:
      time_step = act()
    except Exception as error:  # noqa: BLE001  the user's environment may raise anything
      fail(f"{what} raised {type(error).__name__}: {error}")
    problems = time_step_problems(env, time_step, what)
    if problems:
      fail(problems[0])


def describe(env) -> List[Tuple[str, bool, str]]:
  """(method, present, what it buys or its fallback) for every method of the contract."""
  rows = [(name, implements(env, name), what) for name, what in REQUIRED.items()]
  rows.append((SET_STATE[0], implements(env, SET_STATE[0]), SET_STATE[1]))
  for name, (buys, fallback) in OPTIONAL.items():
    present = implements(env, name)
    rows.append((name, present, buys if present else f"absent: {fallback}"))
  return rows
