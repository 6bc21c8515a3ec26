"""Import boundaries of the layout (docs/design.md, map of the code): pure logic imports
neither TensorFlow nor Reverb, and offline evaluation does not depend on the replay buffer."""

import subprocess
import sys

import pytest

HEAVY = ("tensorflow", "reverb", "tf_agents")


def imported_heavy_modules(modules):
  code = (f"import sys\nimport {', '.join(modules)}\n"
          f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  return result.stdout.strip()


@pytest.mark.parametrize(
    "modules",
    [
        # the pure modules: their tests run in milliseconds, and the launcher's checks stay light
        [
            "sac_system.curriculum", "sac_system.cpu_allocation", "sac_system.train_params_base",
            "sac_system.training_variables", "sac_system.metrics", "sac_system.constants",
            "sac_system.errors", "sac_system.files", "sac_system.seeds", "sac_system.deadlines",
            "sac_system.program", "sac_system.envs.physics", "sac_system.envs.lunar_lander_physics",
            "sac_system.envs.lunar_lander_params", "sac_system.envs.gym_params",
            "sac_system.envs.minitaur_physics", "sac_system.envs.minitaur_params",
            "sac_system.envs.mujoco_physics", "sac_system.sweep", "sac_system.sweep_plan",
            "sac_system.aggregate", "sac_system.private_network"],
        # offline evaluation and what it shares with the workers
        ["sac_system.evaluation", "sac_system.episodes"]])
def test_modules_import_neither_tensorflow_nor_reverb(modules):
  assert imported_heavy_modules(modules) == ""


def test_the_replay_contract_is_what_imports_reverb():
  """The programs reach Reverb through replay_buffer.py; a worker or the learner importing it
  is expected, the launcher's module is not."""
  assert imported_heavy_modules(["sac_system.launcher"]) == ""
  assert "reverb" in imported_heavy_modules(["sac_system.replay_buffer"]).split(",")
