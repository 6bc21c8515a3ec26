"""A tf-agents `PyEnvironment` over a gymnasium environment (tf-agents 0.19.0 has none).

- Observations are float32 arrays, actions a bounded float32 array (continuous control).
- `terminated` becomes a terminal step (discount 0); `truncated` (a time limit) becomes a
  truncation (discount 1), so the critic bootstraps through it: a time-out is not a state of
  value zero.
- `seed(s)` seeds the next reset; later resets continue that random stream. `seed_next_reset`
  fixes the seed of one episode (for evaluation on fixed seeds).
- `set_state(dict)` changes environment parameters. They are checked at once (a bad key or
  value raises `ValueError` naming it) and applied before the next `reset()`: gymnasium
  builds physics worlds at reset, and changing some (Lunar Lander's wind) mid-episode crashes.
"""

import collections
import inspect
import time
from typing import Any, Dict, List, Optional

import gymnasium as gym
import numpy as np
from tf_agents.environments import py_environment
from tf_agents.specs import array_spec
from tf_agents.trajectories import time_step as ts

from sac_system.envs.physics import PhysicsParameters


class UnsupportedEnvError(ValueError):
  """The gymnasium env's spaces are not ones SAC can train on."""


class GymnasiumEnvironment(py_environment.PyEnvironment):
  """A registered gymnasium env with a `Box` action space, as a tf-agents `PyEnvironment`.

  The generic `set_state` accepts the env's constructor keyword arguments: the new values are
  checked by building a throwaway env with them, and applied by rebuilding the env at the
  next reset.
  """

  def __init__(self, env_id: str, env_kwargs: Optional[Dict[str, Any]] = None,
               max_episode_steps: Optional[int] = None, render_mode: Optional[str] = None,
               step_latency_s: float = 0.0):
    """Builds the environment.

    Args:
      env_id: A registered gymnasium id, e.g. "Pendulum-v1".
      env_kwargs: Keyword arguments for `gymnasium.make`.
      max_episode_steps: Overrides the registered time limit.
      render_mode: gymnasium render mode ("rgb_array" for videos).
      step_latency_s: Each step also sleeps this long (a robot's or a remote simulator's
        latency, without CPU work).

    Raises:
      UnsupportedEnvError: if the env does not have Box action and observation spaces.
    """
    super().__init__(handle_auto_reset=True)
    self._env_id = env_id
    self._env_kwargs = dict(env_kwargs or {})
    self._max_episode_steps = max_episode_steps
    self._render_mode = render_mode
    self._step_latency_s = float(step_latency_s)
    self._env = self._make(self._env_kwargs)
    if not isinstance(self._env.action_space, gym.spaces.Box):
      raise UnsupportedEnvError(f"{env_id} has action space {self._env.action_space}; SAC needs a "
                                f"continuous Box action space")
    if not isinstance(self._env.observation_space, gym.spaces.Box):
      raise UnsupportedEnvError(f"{env_id} has observation space {self._env.observation_space}; "
                                f"only Box observations are supported")
    space = self._env.action_space
    self._action_spec = array_spec.BoundedArraySpec(space.shape, np.float32,
                                                    minimum=space.low.astype(np.float32),
                                                    maximum=space.high.astype(np.float32),
                                                    name="action")
    self._observation_spec = array_spec.ArraySpec(self._env.observation_space.shape, np.float32,
                                                  name="observation")
    self._pending_state: Dict[str, Any] = {}
    self._next_seed: Optional[int] = None
    self._rng = np.random.default_rng()

  # ----- gymnasium ---------------------------------------------------------------------------
  def _make(self, kwargs):
    extra = {}
    if self._max_episode_steps is not None:
      extra["max_episode_steps"] = self._max_episode_steps
    return gym.make(self._env_id, render_mode=self._render_mode, **extra, **kwargs)

  @property
  def gym_env(self) -> gym.Env:
    return self._env

  @property
  def reward_threshold(self) -> Optional[float]:
    """The return at which gymnasium's registration calls the task solved (None if unset)."""
    spec = self._env.spec
    return None if spec is None or spec.reward_threshold is None else float(spec.reward_threshold)

  # ----- PyEnvironment -----------------------------------------------------------------------
  def observation_spec(self):
    return self._observation_spec

  def action_spec(self):
    return self._action_spec

  def _observation(self, observation):
    return np.asarray(observation, dtype=np.float32)

  # TimeSteps are built directly: tf-agents' ts.restart/transition/termination check every
  # field for TF tensors (slow typing-protocol isinstance checks), a third of a worker's time.
  def _time_step(self, step_type, reward, discount, observation):
    return ts.TimeStep(np.asarray(step_type, np.int32), np.asarray(reward, np.float32),
                       np.asarray(discount, np.float32), observation)

  def should_reset(self, current_time_step) -> bool:
    return int(current_time_step.step_type) == int(ts.StepType.LAST)

  def _reset(self):
    if self._pending_state:
      self._apply_state(self._pending_state)
      self._pending_state = {}
    seed, self._next_seed = self._next_seed, None
    self._before_reset(seed)
    observation, _ = self._env.reset(seed=seed)
    return self._time_step(ts.StepType.FIRST, 0.0, 1.0, self._observation(observation))

  def _step(self, action):
    if self._step_latency_s:
      time.sleep(self._step_latency_s)
    observation, reward, terminated, truncated, _ = self._env.step(np.asarray(action))
    observation = self._observation(observation)
    if terminated:
      return self._time_step(ts.StepType.LAST, reward, 0.0, observation)
    if truncated:
      return self._time_step(ts.StepType.LAST, reward, 1.0, observation)
    return self._time_step(ts.StepType.MID, reward, 1.0, observation)

  def seed(self, seed: int) -> int:
    """Seeds the next reset; later resets continue the same random stream."""
    self._next_seed = int(seed)
    self._rng = np.random.default_rng(int(seed))
    return int(seed)

  def seed_next_reset(self, seed: int) -> None:
    """Fixes the seed of the next episode only (evaluation on fixed seeds)."""
    self._next_seed = int(seed)

  def enable_rendering(self) -> None:
    """Rebuilds the env with render_mode="rgb_array" (same parameters), for videos."""
    if self._render_mode != "rgb_array":
      self._render_mode = "rgb_array"
      self._env.close()
      self._env = self._make(self._env_kwargs)

  def render(self, mode: str = "rgb_array"):
    return self._env.render()

  def close(self) -> None:
    self._env.close()

  # ----- parameters --------------------------------------------------------------------------
  def state_keys(self):
    """The keys `set_state` accepts."""
    creator = self._env.unwrapped.__class__.__init__
    return sorted(name for name, parameter in inspect.signature(creator).parameters.items()
                  if name not in ("self", "render_mode") and parameter.kind in (
                      parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY))

  def validate_state(self, state: Dict[str, Any]) -> Dict[str, Any]:
    """Checks keys and values of `state` and returns it normalized.

    Raises:
      ValueError: naming the first unknown key (and the known ones) or bad value.
    """
    if not isinstance(state, dict):
      raise ValueError(f"set_state takes a dict, got {type(state).__name__}")
    known = self.state_keys()
    for key in state:
      if key not in known:
        raise ValueError(f"unknown set_state key {key!r} for {self._env_id}; known: "
                         f"{', '.join(known)}")
    try:
      self._make({**self._env_kwargs, **state}).close()
    except Exception as error:  # noqa: BLE001  the env's own constructor decides what it accepts
      raise ValueError(f"{self._env_id} rejects {state}: {type(error).__name__}: {error}") from None
    return dict(state)

  def set_state(self, state: Dict[str, Any]) -> None:
    """Validates `state` now and applies it before the next reset."""
    self._pending_state.update(self.validate_state(state))

  def get_state(self) -> Dict[str, Any]:
    """Parameters in force, including ones set but not yet applied."""
    return {**self._current_state(), **self._pending_state}

  def episode_metrics(self) -> Dict[str, float]:
    """Numbers about the episode that just ended, beside its return (none for most envs;
    Minitaur's forward distance)."""
    return {}

  def pop_episode_states(self) -> List[Dict[str, Any]]:
    """Parameters drawn for each episode since the last call (oldest first), for
    environments that randomize them per episode; the generic adapter draws none."""
    return []

  def _before_reset(self, seed: Optional[int]) -> None:
    """Hook run just before each gymnasium reset, with that reset's seed (None when the
    episode continues the random stream); subclasses draw per-episode parameters here."""

  def _current_state(self) -> Dict[str, Any]:
    return dict(self._env_kwargs)

  def _apply_state(self, state: Dict[str, Any]) -> None:
    """Rebuilds the env with the new keyword arguments, keeping the seed stream going."""
    self._env_kwargs.update(state)
    self._env.close()
    self._env = self._make(self._env_kwargs)
    if self._next_seed is None:
      self._next_seed = int(self._rng.integers(2**31 - 1))


# Episodes whose drawn physics are kept until `pop_episode_states` collects them.
MAX_RECORDED_EPISODES = 10_000
# Mixed into an episode's seed to seed the physics draws (independent of gymnasium's stream).
_PHYSICS_SEED_SALT = 0x5EED


class PhysicsEnvironment(GymnasiumEnvironment):
  """A gymnasium env whose physics (a `physics.PhysicsParameters`, the class's `PHYSICS`) are
  set by `set_state` and may be re-drawn at every reset.

  New values take effect at the next reset, where the episode's physics are drawn and handed
  to `_use_physics`; the seed stream is not disturbed. The draws come from the env's own
  generator, seeded from each explicitly seeded reset, so an episode run with a fixed seed
  (evaluation, run.py) always gets the same physics.
  """

  PHYSICS: PhysicsParameters

  def __init__(self, env_id: str, settings: Dict[str, Any],
               env_kwargs: Optional[Dict[str, Any]] = None, max_episode_steps: Optional[int] = None,
               render_mode: Optional[str] = None, step_latency_s: float = 0.0):
    """Args:
      env_id: The gymnasium id (or the name `_make` builds).
      settings: `PHYSICS` keys (physics and randomization); the rest keep their defaults.
      env_kwargs, max_episode_steps, render_mode, step_latency_s: as for
        `GymnasiumEnvironment`.
    """
    self._settings = {**self.PHYSICS.defaults, **self.PHYSICS.validate(settings)}
    self._physics_rng = np.random.default_rng()
    self._episode_physics: collections.deque = collections.deque(maxlen=MAX_RECORDED_EPISODES)
    super().__init__(env_id, env_kwargs, max_episode_steps=max_episode_steps,
                     render_mode=render_mode, step_latency_s=step_latency_s)

  @property
  def randomized(self) -> bool:
    """Whether episodes draw their physics (a spread above 0 or a probability)."""
    return self.PHYSICS.randomizes(self._settings)

  def state_keys(self):
    return list(self.PHYSICS.state_keys)

  def validate_state(self, state):
    return self.PHYSICS.validate(state)

  def _current_state(self):
    return dict(self._settings)

  def _apply_state(self, state):
    self._settings.update(state)

  def _before_reset(self, seed: Optional[int]) -> None:
    if seed is not None:
      self._physics_rng = np.random.default_rng([int(seed), _PHYSICS_SEED_SALT])
    physics = self.PHYSICS.draw(self._settings, self._physics_rng)
    self._use_physics(physics)
    if self.randomized:
      self._episode_physics.append(physics)

  def _use_physics(self, physics: Dict[str, Any]) -> None:
    """Makes the simulator run the coming episode with `physics` (every parameter's value)."""
    raise NotImplementedError

  def pop_episode_states(self) -> List[Dict[str, Any]]:
    episodes = list(self._episode_physics)
    self._episode_physics.clear()
    return episodes
