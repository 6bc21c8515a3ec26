"""Minitaur physics parameters: names, units, valid ranges, validation and per-episode draws.

Pure module (no pybullet), shared by the environment (`minitaur_env.py`), the params file
(which checks a config before any process starts) and the tests. Every key is a `set_state`
key, so a curriculum can move it (the original system's README schedules `mass` and
`friction`); the mechanics of `<p>_spread` and `<p>_distribution` are those of `physics.py`.

  mass              payload added to the robot's base, kg (0 = none; the base itself weighs
                    what its URDF says, 3.0 kg), in [0, 20]                     default 0
  friction          lateral friction coefficient of the four feet, in (0, 5]   default 1.0
  motor_damping     viscous damping of each motor, N·m·s/rad, in [0, 0.05]     default 0
  battery_voltage   the motors' supply voltage, V, in [12, 20]                 default 16.0
  <p>_spread, <p>_distribution   per-episode randomization of each of the four (default off)

The defaults are pybullet's URDF and motor model as they load. pybullet's own randomizer
(which re-draws masses, friction, voltage and damping at every reset from Python's global
random state) is never used: an episode's physics are the user's settings, or draws from the
environment's own seeded generator.
"""

from sac_system.envs.physics import PhysicsParameters
from sac_system.envs.physics import Range

MINITAUR = PhysicsParameters(
    "MinitaurBulletEnv", numeric={
        "mass": Range(0.0, 20.0, unit="kg"),
        "friction": Range(0.0, 5.0, low_inclusive=False),
        "motor_damping": Range(0.0, 0.05, unit="N·m·s/rad"),
        "battery_voltage": Range(12.0, 20.0, unit="V")}, defaults={
            "mass": 0.0,
            "friction": 1.0,
            "motor_damping": 0.0,
            "battery_voltage": 16.0},
    randomized=("mass", "friction", "motor_damping", "battery_voltage"))
