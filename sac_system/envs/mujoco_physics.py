"""Physics parameters of every MuJoCo environment: scales of the model's masses, friction and
joint damping, with their per-episode randomization.

Pure module (numpy; gymnasium's registry to tell a MuJoCo env), shared by the environment
(`mujoco_env.py`), the generic params (which check a config before any process starts) and the
tests. The mechanics of
`<p>_spread` and `<p>_distribution` are those of `physics.py` (docs/design.md §5.3).

  mass_scale        every body's mass (and rotational inertia, so each body keeps its
                    shape and density distribution) times this factor, in (0, 10]   default 1
  friction_scale    every geom's friction coefficients (sliding, torsional, rolling) times
                    this factor, in (0, 10]                                          default 1
  damping_scale     every joint's damping times this factor, in (0, 10]            default 1
                    (joints the XML gives no damping, such as the free root joints, keep none)
  <p>_spread, <p>_distribution   per-episode randomization of each of the three (default off)

Scales multiply the values the model's XML gives, which the environment keeps from when it
was built, so setting a scale twice does not compound.
"""

from typing import Any, Dict, Tuple

from sac_system.envs.physics import PhysicsParameters
from sac_system.envs.physics import Range

SCALES = ("mass_scale", "friction_scale", "damping_scale")
# A scale of 0 would remove a body's mass (MuJoCo rejects it) or all contact friction.
SCALE_RANGE = Range(0.0, 10.0, low_inclusive=False, unit="x")


def mujoco_physics(env_id: str) -> PhysicsParameters:
  """The physics `set_state` keys of the MuJoCo env `env_id` (named in messages)."""
  return PhysicsParameters(env_id, numeric=dict.fromkeys(SCALES, SCALE_RANGE),
                           defaults=dict.fromkeys(SCALES, 1.0), randomized=SCALES)


# Every physics key (the scales and their randomization keys), whatever the env's name.
PHYSICS_KEYS = frozenset(mujoco_physics("MuJoCo").state_keys)


def is_physics_key(key: str) -> bool:
  """Whether `key` is one of the MuJoCo physics keys (a scale or its randomization)."""
  return key in PHYSICS_KEYS


def is_mujoco_env(env_id: str) -> bool:
  """Whether the registered gymnasium env `env_id` is a MuJoCo env: its class derives from
  gymnasium's `MujocoEnv` (told by the classes' modules, so that asking about another env
  never imports MuJoCo)."""
  import gymnasium
  from gymnasium.envs.registration import load_env_creator
  entry_point = gymnasium.spec(env_id).entry_point
  if isinstance(entry_point, str) and entry_point.startswith("gymnasium.envs.mujoco."):
    return True
  creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
  return isinstance(creator, type) and any(
      klass.__module__ == "gymnasium.envs.mujoco.mujoco_env" and klass.__name__ == "MujocoEnv"
      for klass in creator.__mro__)


def split_settings(kwargs: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
  """(physics keys, the task's constructor arguments) of `kwargs`."""
  physics = {key: value for key, value in kwargs.items() if is_physics_key(key)}
  return physics, {key: value for key, value in kwargs.items() if not is_physics_key(key)}
