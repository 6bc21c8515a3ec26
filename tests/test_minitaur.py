"""pybullet's Minitaur: its physics keys, the values the physics engine reports after they are
set (and after every reset), the original README's mass/friction curriculum applied by a
worker, and a tiny run through run_script.sh with a video read back."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import README_CURRICULUM
from conftest import REPO
from conftest import TINY_HYPERPARAMETERS
from conftest import FakeVariables
from conftest import RecordingWriter
from conftest import write_variables
from sac_system.envs.minitaur_physics import MINITAUR

MINITAUR_PARAMS = os.path.join(REPO, "sac_system", "envs", "minitaur_params.py")


def make_env(**settings):
  from sac_system.envs.minitaur_env import MinitaurEnvironment
  return MinitaurEnvironment(max_episode_steps=20, **settings)


def test_keys_units_and_ranges():
  assert MINITAUR.physics_defaults == {
      "mass": 0.0,
      "friction": 1.0,
      "motor_damping": 0.0,
      "battery_voltage": 16.0}
  assert MINITAUR.validate({
      "mass": 10,
      "friction": 0.1,
      "mass_spread": 20.0}) == {
          "mass": 10.0,
          "friction": 0.1,
          "mass_spread": 20.0}
  for state, words in [({
      "mass": -0.5}, "mass must be in [0.0, 20.0]"),
                       ({
                           "friction": 0}, "friction must be in (0.0, 5.0]"),
                       ({
                           "motor_damping": 0.2}, "motor_damping must be in [0.0, 0.05]"),
                       ({
                           "battery_voltage": 9.0}, "battery_voltage must be in [12.0, 20.0]"),
                       ({
                           "mass": True}, "mass must be a number"),
                       ({
                           "mass": float("nan")}, "mass must be a number"),
                       ({
                           "friction_spread": 6.0}, "friction_spread must be in [0, 5.0]"),
                       ({
                           "mass_distribution": "beta"}, "must be one of uniform, normal"),
                       ({
                           "payload": 1.0}, "unknown set_state key 'payload' for Minitaur")]:
    with pytest.raises(ValueError) as error:
      MINITAUR.validate(state)
    assert words in str(error.value), (state, error.value)


def test_set_values_reach_the_physics_engine_and_survive_resets():
  """pybullet rebuilds the robot from its URDF at every reset; the user's values are applied to
  each new robot, read back here from pybullet itself (getDynamicsInfo) and the motor model."""
  env = make_env()
  try:
    env.seed(0)
    env.reset()
    # pybullet's own randomizer would draw mass, friction, voltage and damping at each reset
    for _ in range(3):
      assert env.episode_physics() == MINITAUR.physics_defaults
      env.reset()
    wanted = {"mass": 5.0, "friction": 0.3, "motor_damping": 0.01, "battery_voltage": 15.0}
    env.set_state(wanted)
    assert env.episode_physics() == MINITAUR.physics_defaults  # at the next reset, not now
    for _ in range(3):
      env.reset()
      physics = env.episode_physics()
      assert physics.keys() == wanted.keys()
      for key, value in wanted.items():
        assert physics[key] == pytest.approx(value, abs=1e-6), key
    for _ in range(25):  # through a time-limit reset inside the episode stream
      time_step = env.step(np.zeros(8, np.float32))
      if time_step.is_last():
        assert float(time_step.discount) in (0.0, 1.0)
        env.reset()
    assert env.episode_physics()["mass"] == pytest.approx(5.0)
  finally:
    env.close()


def test_spreads_draw_within_bounds_and_seeded_episodes_repeat_their_physics():
  env = make_env(mass=5.0, mass_spread=3.0, friction=0.2, friction_spread=0.5,
                 friction_distribution="normal")
  try:
    env.seed(1)
    drawn = []
    for _ in range(8):
      env.reset()
      drawn.append(env.episode_physics())
    masses = [physics["mass"] for physics in drawn]
    frictions = [physics["friction"] for physics in drawn]
    assert all(2.0 - 1e-6 <= mass <= 8.0 + 1e-6 for mass in masses) and len(set(masses)) == 8
    assert all(0.01 - 1e-6 <= friction <= 5.0 for friction in frictions)
    assert len(env.pop_episode_states()) == 8
    for seed in (11, 12):
      env.seed_next_reset(seed)
      env.reset()
      first = env.episode_physics()
      env.reset()  # another draw in between
      env.seed_next_reset(seed)
      env.reset()
      assert env.episode_physics() == first
  finally:
    env.close()


def test_the_original_readme_curriculum_applied_by_a_worker(tmp_path):
  """The curriculum of the original system's README, verbatim as config/minitaur.json carries
  it, applied by a worker at its learner iterations (here 1 gradient step each): the payload
  and the feet friction pybullet reports at the next reset, and after further resets."""
  with open(os.path.join(REPO, "config", "minitaur.json")) as shipped:
    assert json.load(shipped)["curriculum"] == README_CURRICULUM
  config = tmp_path / "config.json"
  config.write_text(
      json.dumps({
          "env_kwargs": {
              "friction": 0.8},
          "max_episode_steps": 20,
          "hyperparameters": {
              **TINY_HYPERPARAMETERS, "train_steps_per_iteration": 1,
              "num_iterations": 200_000},
          "curriculum": README_CURRICULUM}))
  from sac_system.train_params_base import load_params
  from sac_system.workers import Worker
  params = load_params(MINITAUR_PARAMS, str(config))
  worker = Worker(params, 0, str(tmp_path), variable_source=FakeVariables([0]),
                  replay_writer=RecordingWriter())
  env = worker.collect_envs[0]
  try:
    # iteration -> (payload kg, friction): linspace over each parameter's entries; friction keeps
    # the config's 0.8 until its first entry; a worker joining late jumps to the current value
    expected = [(0, 0.0, 0.8), (19_999, 0.0, 0.8), (20_000, 2.5, 0.8), (35_000, 5.0, 0.8),
                (50_000, 10.0, 0.1), (65_000, 10.0, 0.2), (100_000, 10.0, 0.4),
                (120_000, 10.0, 0.5), (150_000, 10.0, 0.5)]
    for iteration, mass, friction in expected:
      worker.apply_curriculum(iteration)
      for _ in range(2):
        env.reset()
        physics = env.episode_physics()
        assert physics["mass"] == pytest.approx(mass), iteration
        assert physics["friction"] == pytest.approx(friction), iteration
    assert worker.eval_env.get_state()["mass"] == 0.0  # eval keeps its own physics
  finally:
    for built in worker.collect_envs + [worker.eval_env]:
      built.close()


@pytest.mark.slow
def test_a_tiny_minitaur_run_and_its_video(tmp_path):
  config = tmp_path / "config.json"
  config.write_text(
      json.dumps({
          "env_kwargs": {
              "mass": 1.0},
          "max_episode_steps": 30,
          "hyperparameters": {
              **TINY_HYPERPARAMETERS, "steps_per_item": 4,
              "eval_interval": 3,
              "eval_episodes": 1},
          "curriculum": {
              "friction": {
                  "iters": [0, 3],
                  "range": [0.5, 0.8]}}}))
  variables = write_variables(tmp_path, config, name="minitaur",
                              params="sac_system/envs/minitaur_params.py", seed=2)
  result = subprocess.run([os.path.join(REPO, "run_script.sh"), variables], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  exp_dir = tmp_path / "logs" / "minitaur"
  records = [json.loads(line) for line in open(exp_dir / "metrics.jsonl")]
  assert max(r["train_step"] for r in records if r["source"] == "learner") == 60
  evals = [r for r in records if "eval/average_return" in r]
  assert evals and all("eval/forward_distance" in r for r in evals)
  # the entry of iteration 0 at once; the one of iteration 3 if the worker pulled an iteration
  # between 3 and the end (the exact schedule is test_the_original_readme_curriculum_...)
  applied = [r["curriculum/friction"] for r in records if "curriculum/friction" in r]
  assert applied and applied == [0.5, 0.8][:len(applied)]
  checkpoints = sorted(os.listdir(exp_dir / "policies" / "checkpoints"))
  assert checkpoints[-1] == "policy_checkpoint_0000000060"
  evaluation = subprocess.run([
      sys.executable, "sac_system/run.py", "--params", "sac_system/envs/minitaur_params.py",
      "--exp_dir",
      str(exp_dir), "--config",
      str(config), "--num_episodes", "2", "--checkpoint", "latest", "--seed", "108"], cwd=REPO,
                              capture_output=True, text=True, timeout=300)
  assert evaluation.returncode == 0, evaluation.stderr[-3000:]
  assert "forward_distance" in evaluation.stdout
  output = json.load(open(exp_dir / "eval" / "policy_checkpoint_0000000060_seed108.json"))
  assert len(output["episode_metrics"]) == 2
  assert output["eval/forward_distance"] == pytest.approx(
      np.mean([m["forward_distance"] for m in output["episode_metrics"]]))
  baseline = subprocess.run([
      sys.executable, "sac_system/run.py", "--params", "sac_system/envs/minitaur_params.py",
      "--exp_dir",
      str(exp_dir), "--config",
      str(config), "--num_episodes", "2", "--checkpoint", "random", "--seed", "108", "--no_video"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
  assert baseline.returncode == 0, baseline.stderr[-3000:]
  random_output = json.load(open(exp_dir / "eval" / "random_seed108.json"))
  assert random_output["train_step"] is None and random_output["episode_seeds"] == output[
      "episode_seeds"]  # the same episodes as the policy's
  assert "eval/forward_distance" in random_output
  import imageio
  with imageio.get_reader(str(exp_dir / "videos" / "policy_checkpoint_0000000060_seed108.mp4")) \
      as reader:
    frame_count = reader.count_frames()
    first = reader.get_data(0)
    fps = reader.get_meta_data()["fps"]
  from sac_system.envs import minitaur_env
  stride = minitaur_env.VIDEO_FRAME_STRIDE
  # every stride-th step of both episodes (the reset frame and each step), played at real time
  assert frame_count == math.ceil(sum(length + 1 for length in output["lengths"]) / stride)
  assert first.shape == (minitaur_env.VIDEO_HEIGHT, minitaur_env.VIDEO_WIDTH, 3)
  assert fps == round(1 / (minitaur_env.STEP_SECONDS * stride))
  assert first.std() > 5  # a rendered scene, not a blank frame
