"""The pybullet Minitaur quadruped (`MinitaurBulletEnv`), with physics set by `set_state`.

The robot walks forward for `max_episode_steps` steps of 10 ms of simulated time (1000 steps:
10 s); the reward is the forward progress of its base in metres minus a small energy
penalty, and an episode ends early when it falls. Observations are its 8 motor angles,
velocities and torques and its base orientation (28 values); actions are 8 leg commands in
[-1, 1].

`set_state` keys are those of `minitaur_physics.py` (payload `mass` in kg, feet `friction`,
`motor_damping`, `battery_voltage`, and their per-episode randomization). pybullet rebuilds
the robot from its URDF at every reset; the episode's physics are applied to the new robot
inside that reset, before the robot settles, by the hook pybullet offers for its own
randomizer (which is never used). Settings and draws work as for every environment with
physics (`gym_env.PhysicsEnvironment`): new values at the next reset, fixed-seed episodes
with fixed physics.

pybullet's Minitaur uses the old `gym` API (tf-agents installs `gym`); `_MinitaurGymnasium`
presents it as a gymnasium env so that `GymnasiumEnvironment` handles time limits,
termination vs truncation, seeding and `set_state` as for every other environment.
"""

import contextlib
import io
from typing import Any, Dict, Optional

import gymnasium
import numpy as np

from sac_system.envs.gym_env import PhysicsEnvironment
from sac_system.envs.minitaur_physics import MINITAUR

ENV_NAME = "MinitaurBulletEnv"
# Simulated seconds per env step: 5 substeps of 2 ms (pybullet's accurate motor model).
STEP_SECONDS = 0.01
DEFAULT_EPISODE_STEPS = 1000
# Videos: frames of this size (pybullet's CPU renderer), one every VIDEO_FRAME_STRIDE steps,
# played at real time.
VIDEO_WIDTH, VIDEO_HEIGHT = 256, 192
VIDEO_FRAME_STRIDE = 5


class _ApplyPhysics:
  """pybullet's randomizer hook (`randomize_env(env)`, called inside every reset once the
  robot is rebuilt), used to apply the episode's physics instead."""

  def __init__(self):
    self.physics: Dict[str, Any] = dict(MINITAUR.physics_defaults)

  def randomize_env(self, env) -> None:
    robot = env.minitaur
    robot.SetBaseMass(robot.GetBaseMassFromURDF() + self.physics["mass"])
    robot.SetFootFriction(self.physics["friction"])
    robot.SetMotorViscousDamping(self.physics["motor_damping"])
    robot.SetBatteryVoltage(self.physics["battery_voltage"])


class _MinitaurGymnasium(gymnasium.Env):
  """`MinitaurBulletEnv` (old gym API, pybullet in DIRECT mode) as a gymnasium env."""

  metadata = {  # noqa: RUF012  gymnasium's convention: a class attribute
      "render_modes": ["rgb_array"],
      "render_fps": round(1 / (STEP_SECONDS * VIDEO_FRAME_STRIDE))}

  def __init__(self, render_mode: Optional[str] = None):
    from pybullet_envs.bullet import minitaur_gym_env
    self.render_mode = render_mode
    self.hook = _ApplyPhysics()
    # The constructor prints its URDF folder and resets once (with the default physics).
    with contextlib.redirect_stdout(io.StringIO()):
      self.bullet_env = minitaur_gym_env.MinitaurBulletEnv(render=False, env_randomizer=self.hook)
    space = self.bullet_env.observation_space
    self.observation_space = gymnasium.spaces.Box(space.low.astype(np.float32),
                                                  space.high.astype(np.float32), dtype=np.float32)
    self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (8,), dtype=np.float32)

  def reset(self, *, seed=None, options=None):
    super().reset(seed=seed)  # the robot's start is deterministic; draws are ours
    return np.asarray(self.bullet_env.reset(), np.float32), {}

  def step(self, action):
    observation, reward, fallen, _ = self.bullet_env.step(np.asarray(action, np.float64))
    return np.asarray(observation, np.float32), float(reward), bool(fallen), False, {}

  @property
  def client(self):
    """The env's own pybullet connection (`BulletClient`, DIRECT mode)."""
    return self.bullet_env._pybullet_client  # noqa: SLF001  pybullet keeps no public accessor

  def render(self):
    import pybullet
    client = self.client
    view = client.computeViewMatrixFromYawPitchRoll(
        cameraTargetPosition=self.bullet_env.minitaur.GetBasePosition(), distance=1.0, yaw=0,
        pitch=-30, roll=0, upAxisIndex=2)
    projection = client.computeProjectionMatrixFOV(fov=60, aspect=VIDEO_WIDTH / VIDEO_HEIGHT,
                                                   nearVal=0.1, farVal=100.0)
    _, _, pixels, _, _ = client.getCameraImage(width=VIDEO_WIDTH, height=VIDEO_HEIGHT,
                                               viewMatrix=view, projectionMatrix=projection,
                                               renderer=pybullet.ER_TINY_RENDERER)
    return np.asarray(pixels, np.uint8).reshape(VIDEO_HEIGHT, VIDEO_WIDTH, 4)[:, :, :3]

  def close(self):
    self.client.disconnect()


class MinitaurEnvironment(PhysicsEnvironment):
  """pybullet's Minitaur whose payload, feet friction, motor damping and battery voltage can
  change, or be re-drawn, between episodes."""

  PHYSICS = MINITAUR
  video_frame_stride = VIDEO_FRAME_STRIDE

  def __init__(self, max_episode_steps: Optional[int] = None, render_mode: Optional[str] = None,
               **settings):
    """Builds the env. `settings` takes the keys of `minitaur_physics.py` (default: pybullet's
    URDF and motor model, no randomization)."""
    super().__init__(ENV_NAME, settings, max_episode_steps=max_episode_steps
                     or DEFAULT_EPISODE_STEPS, render_mode=render_mode)

  def _make(self, kwargs):
    del kwargs  # the physics are applied by the reset hook, not given to a constructor
    env = _MinitaurGymnasium(render_mode=self._render_mode)
    return gymnasium.wrappers.TimeLimit(env, max_episode_steps=self._max_episode_steps)

  @property
  def bullet_env(self):
    """pybullet's `MinitaurBulletEnv` inside."""
    return self.gym_env.unwrapped.bullet_env

  def _use_physics(self, physics):
    self.gym_env.unwrapped.hook.physics = physics  # applied when the reset rebuilds the robot

  def episode_physics(self) -> Dict[str, float]:
    """The current episode's physics, read back from pybullet and the motor model."""
    from pybullet_envs.bullet import minitaur as minitaur_lib
    robot = self.bullet_env.minitaur
    client = self.gym_env.unwrapped.client
    base_mass = client.getDynamicsInfo(robot.quadruped, minitaur_lib.BASE_LINK_ID)[0]
    frictions = {
        client.getDynamicsInfo(robot.quadruped, link)[1] for link in minitaur_lib.FOOT_LINK_ID}
    if len(frictions) != 1:
      raise RuntimeError(f"the feet have different frictions: {sorted(frictions)}")
    motor = robot._motor_model  # noqa: SLF001  pybullet keeps no public accessor
    return {
        "mass": base_mass - robot.GetBaseMassFromURDF(),
        "friction": frictions.pop(),
        "motor_damping": motor.get_viscous_dampling(),  # (sic) pybullet's spelling
        "battery_voltage": motor.get_voltage()}

  def episode_metrics(self) -> Dict[str, float]:
    """How far the base moved forward (x, metres) since the episode's start."""
    return {"forward_distance": float(self.bullet_env.minitaur.GetBasePosition()[0])}
