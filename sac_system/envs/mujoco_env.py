"""gymnasium's MuJoCo tasks (HalfCheetah-v5, Hopper-v5, Walker2d-v5, Ant-v5, ...), with
physics set by `set_state`.

`set_state` accepts two kinds of keys:
- the physics scales of `mujoco_physics.py` (`mass_scale`, `friction_scale`, `damping_scale`
  and their per-episode randomization). They are written into the MuJoCo model at the next
  reset, from the values the model's XML gave, and can be read back (`model_scales`);
  settings and draws work as for every environment with physics (`gym_env.PhysicsEnvironment`):
  fixed-seed episodes get fixed physics.
- the task's own constructor arguments (`ctrl_cost_weight`, `reset_noise_scale`, ...), which
  rebuild the env at the next reset, as for any gymnasium env.

Rendering is headless (`ensure_headless_gl`): MuJoCo's EGL backend, or OSMesa when only that
is installed. Training never renders, so it needs neither.
"""

import ctypes.util
import os
from typing import Any, Dict, Optional

import numpy as np

from sac_system.envs.gym_env import PhysicsEnvironment
from sac_system.envs.gym_env import UnsupportedEnvError
from sac_system.envs.mujoco_physics import mujoco_physics
from sac_system.envs.mujoco_physics import split_settings
from sac_system.errors import UserInputError

# MuJoCo picks its OpenGL backend from MUJOCO_GL when it is first imported; "disable" lets
# envs that never render (training) import it on machines with no OpenGL library at all.
# gymnasium's renderer reads MUJOCO_GL again when a frame is first drawn, so a video can
# still choose a backend then (`ensure_headless_gl`). A user's own backend is never changed; a
# "disable" is not a backend (child processes inherit ours), so a video replaces it.
_DISABLED = ("disable", "disabled", "off", "false", "0")
_USER_GL = os.environ.get("MUJOCO_GL", "").strip().lower()
if _USER_GL in _DISABLED:
  _USER_GL = ""
os.environ.setdefault("MUJOCO_GL", "disable")

# Headless backend -> (the shared library it loads, the Debian package that provides it).
GL_BACKENDS = {
    "egl": ("EGL", "libegl1 libegl-mesa0 libgl1-mesa-dri"),
    "osmesa": ("OSMesa", "libosmesa6")}


class MissingGLError(UserInputError):
  """No headless OpenGL library for MuJoCo's renderer (run.py reports it in one line)."""


def ensure_headless_gl() -> str:
  """Chooses MuJoCo's rendering backend for videos: the user's MUJOCO_GL if set, else EGL or
  OSMesa, whichever library is installed.

  Raises:
    MissingGLError: one line naming the Debian packages to install.
  """
  if _USER_GL:
    os.environ["MUJOCO_GL"] = _USER_GL
    return _USER_GL
  for backend, (library, _) in GL_BACKENDS.items():
    if ctypes.util.find_library(library):
      os.environ["MUJOCO_GL"] = backend
      return backend
  raise MissingGLError(
      "video", "MUJOCO_GL", "MuJoCo videos need a headless OpenGL library and neither libEGL "
      f"nor libOSMesa is installed: apt-get install {GL_BACKENDS['egl'][1]} (or --no_video)")


class MujocoEnvironment(PhysicsEnvironment):
  """A gymnasium MuJoCo env whose masses, friction and damping scale by `set_state`."""

  def __init__(self, env_id: str, env_kwargs: Optional[Dict[str, Any]] = None,
               max_episode_steps: Optional[int] = None, render_mode: Optional[str] = None,
               step_latency_s: float = 0.0):
    """Args:
      env_id: A registered gymnasium MuJoCo id, e.g. "HalfCheetah-v5".
      env_kwargs: Physics keys and the task's constructor arguments, mixed.
      max_episode_steps, render_mode, step_latency_s: as for `GymnasiumEnvironment`.

    Raises:
      UnsupportedEnvError: if `env_id` is not a MuJoCo env.
      ValueError: naming a bad physics key or value.
    """
    self.PHYSICS = mujoco_physics(env_id)
    self._xml_model = None  # the model `_xml_arrays` were copied from
    self._xml_arrays: Dict[str, np.ndarray] = {}
    settings, task_kwargs = split_settings(dict(env_kwargs or {}))
    super().__init__(env_id, settings, task_kwargs, max_episode_steps=max_episode_steps,
                     render_mode=render_mode, step_latency_s=step_latency_s)

  def _make(self, kwargs):
    if self._render_mode == "rgb_array":
      ensure_headless_gl()
    env = super()._make(kwargs)
    from gymnasium.envs.mujoco.mujoco_env import MujocoEnv
    if not isinstance(env.unwrapped, MujocoEnv):
      env.close()
      raise UnsupportedEnvError(f"{self._env_id} is not a MuJoCo env; mass_scale, friction_scale "
                                f"and damping_scale apply only to MuJoCo envs")
    return env

  @property
  def model(self):
    """The MuJoCo model (`mujoco.MjModel`) the env steps."""
    return self._env.unwrapped.model

  def _xml_physics(self) -> Dict[str, np.ndarray]:
    """What the model's XML gave, which the scales multiply: copied from each new model (a
    rebuilt env's, still unscaled) before the first scale is written into it."""
    model = self.model
    if self._xml_model is not model:
      self._xml_model = model
      self._xml_arrays = {
          "body_mass": model.body_mass.copy(),
          "body_inertia": model.body_inertia.copy(),
          "geom_friction": model.geom_friction.copy(),
          "dof_damping": model.dof_damping.copy()}
    return self._xml_arrays

  # ----- set_state: physics keys, and the task's constructor arguments ------------------------
  def state_keys(self):
    return sorted([*self.PHYSICS.state_keys, *super(PhysicsEnvironment, self).state_keys()])

  def validate_state(self, state):
    if not isinstance(state, dict):
      raise ValueError(f"set_state takes a dict, got {type(state).__name__}")
    physics, task_kwargs = split_settings(state)
    unknown = sorted(set(task_kwargs) - set(super(PhysicsEnvironment, self).state_keys()))
    if unknown:
      raise ValueError(f"unknown set_state key {unknown[0]!r} for {self._env_id}; known: "
                       f"{', '.join(self.state_keys())}")
    validated = self.PHYSICS.validate(physics)
    if task_kwargs:
      validated.update(super(PhysicsEnvironment, self).validate_state(task_kwargs))
    return validated

  def _current_state(self):
    return {**self._settings, **self._env_kwargs}

  def _apply_state(self, state):
    physics, task_kwargs = split_settings(state)
    self._settings.update(physics)
    if task_kwargs:
      super(PhysicsEnvironment, self)._apply_state(task_kwargs)

  def _use_physics(self, physics: Dict[str, Any]) -> None:
    import mujoco
    model, xml = self.model, self._xml_physics()
    model.body_mass[:] = xml["body_mass"] * physics["mass_scale"]
    model.body_inertia[:] = xml["body_inertia"] * physics["mass_scale"]
    model.geom_friction[:] = xml["geom_friction"] * physics["friction_scale"]
    model.dof_damping[:] = xml["dof_damping"] * physics["damping_scale"]
    # What MuJoCo derives from masses when it compiles (subtree masses, the inverse weights
    # that set contact and joint-limit softness, ...) follows the new masses; the reset that
    # comes next recomputes the state.
    mujoco.mj_setConst(model, self._env.unwrapped.data)

  def model_scales(self) -> Dict[str, Optional[float]]:
    """The scales the MuJoCo model runs with now, read back from the model's arrays (None
    where the XML has nothing to scale, e.g. a model without joint damping)."""
    model, xml = self.model, self._xml_physics()

    def ratio(now, base):
      nonzero = base != 0
      return float(np.mean(now[nonzero] / base[nonzero])) if nonzero.any() else None

    return {
        "mass_scale": ratio(model.body_mass, xml["body_mass"]),
        "friction_scale": ratio(model.geom_friction, xml["geom_friction"]),
        "damping_scale": ratio(model.dof_damping, xml["dof_damping"])}
