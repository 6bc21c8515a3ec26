"""gymnasium's MuJoCo tasks: the physics scales read back from the MuJoCo model, their draws and
seeds, a curriculum over mass_scale applied by a worker, and a tiny Hopper run through
run_script.sh with run.py's determinism, video (frames read back) and robustness grid."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from conftest import TINY_HYPERPARAMETERS
from conftest import FakeVariables
from conftest import RecordingWriter
from conftest import write_variables
from sac_system.envs.mujoco_physics import mujoco_physics

GYM_PARAMS = os.path.join(REPO, "sac_system", "envs", "gym_params.py")
SHIPPED = {
    "halfcheetah": "HalfCheetah-v5",
    "hopper": "Hopper-v5",
    "walker2d": "Walker2d-v5",
    "ant": "Ant-v5"}


def make_env(env_id="HalfCheetah-v5", **env_kwargs):
  from sac_system.envs.mujoco_env import MujocoEnvironment
  return MujocoEnvironment(env_id, env_kwargs, max_episode_steps=20)


def test_keys_and_ranges():
  physics = mujoco_physics("Hopper-v5")
  assert physics.physics_defaults == {
      "mass_scale": 1.0,
      "friction_scale": 1.0,
      "damping_scale": 1.0}
  assert physics.validate({
      "mass_scale": 2,
      "friction_scale_spread": 0.5}) == {
          "mass_scale": 2.0,
          "friction_scale_spread": 0.5}
  for state, words in [({
      "mass_scale": 0}, "mass_scale must be in (0.0, 10.0], got 0"),
                       ({
                           "friction_scale": -1.0}, "friction_scale must be in (0.0, 10.0]"),
                       ({
                           "damping_scale": 11}, "damping_scale must be in (0.0, 10.0]"),
                       ({
                           "mass_scale": "2"}, "mass_scale must be a number"),
                       ({
                           "mass_scale_spread": 10.5}, "mass_scale_spread must be in [0, 10.0]"),
                       ({
                           "damping_scale_distribution": "beta"}, "one of uniform, normal"),
                       ({
                           "gravity": 1.0}, "unknown set_state key 'gravity' for Hopper-v5")]:
    with pytest.raises(ValueError) as error:
      physics.validate(state)
    assert words in str(error.value), (state, error.value)


def test_which_envs_are_mujoco_ones():
  import gymnasium
  from gymnasium.envs.mujoco.hopper_v5 import HopperEnv

  from sac_system.envs.mujoco_physics import is_mujoco_env

  class HeavyHopper(HopperEnv):
    pass

  if "TestHeavyHopper-v0" not in gymnasium.registry:
    gymnasium.register("TestHeavyHopper-v0", entry_point=HeavyHopper)
  assert [
      is_mujoco_env(env_id) for env_id in (*SHIPPED.values(), "Humanoid-v5", "Hopper-v4",
                                           "TestHeavyHopper-v0")] == [True] * 7
  assert not any(
      is_mujoco_env(env_id)
      for env_id in ("Pendulum-v1", "LunarLanderContinuous-v3", "MountainCarContinuous-v0"))


def test_the_shipped_tasks_build_from_their_configs():
  from sac_system.envs.mujoco_env import MujocoEnvironment
  from sac_system.train_params_base import load_params
  for name, env_id in SHIPPED.items():
    params = load_params(GYM_PARAMS, os.path.join(REPO, "config", f"{name}.json"))
    assert params.mujoco and params.env_config["env_id"] == env_id
    env = params.make_collect_env(seed=0)
    try:
      assert isinstance(env, MujocoEnvironment)
      # SAC's published settings, where the configs do not say otherwise (docs/results.md, "MuJoCo")
      assert params.actor_fc_layers == params.critic_joint_fc_layers == (256, 256)
      assert params.batch_size == 256 and params.samples_per_insert == 256.0
      assert params.target_update_tau == 0.005 and params.gamma == 0.99
      assert params.min_size_to_sample == 10_000
      assert env.reset().observation.shape == env.observation_spec().shape
    finally:
      env.close()
    with open(os.path.join(REPO, f"training_variables_{name}.sh")) as variables:
      assert f"SAC_CONFIG=config/{name}.json" in variables.read()


def test_set_values_reach_the_mujoco_model_at_the_next_reset():
  env = make_env(mass_scale=2.0)
  try:
    xml_mass = env.model.body_mass.copy()  # not yet scaled: the env has not been reset
    env.reset()
    assert env.model_scales() == pytest.approx({
        "mass_scale": 2.0,
        "friction_scale": 1.0,
        "damping_scale": 1.0})
    np.testing.assert_allclose(env.model.body_mass, 2.0 * xml_mass)
    wanted = {"mass_scale": 0.5, "friction_scale": 0.3, "damping_scale": 4.0}
    env.set_state(wanted)
    assert env.model_scales()["mass_scale"] == pytest.approx(2.0)  # at the next reset, not now
    for _ in range(2):  # scales multiply the XML's values: setting them again does not compound
      env.reset()
      assert env.model_scales() == pytest.approx(wanted)
      np.testing.assert_allclose(env.model.body_mass, 0.5 * xml_mass)
    for _ in range(25):  # through a time-limit reset inside the episode stream
      if env.step(np.zeros(6, np.float32)).is_last():
        env.reset()
    assert env.model_scales() == pytest.approx(wanted)
    # a task argument rebuilds the env; the physics are applied to the new model too
    env.set_state({"ctrl_cost_weight": 0.2})
    env.reset()
    assert env.gym_env.unwrapped._ctrl_cost_weight == 0.2
    assert env.model_scales() == pytest.approx(wanted)
    assert env.get_state()["ctrl_cost_weight"] == 0.2 and env.get_state()["mass_scale"] == 0.5
  finally:
    env.close()


def test_what_mujoco_derives_from_the_masses_follows_them():
  """After a reset with mass_scale 2, MuJoCo's compiled quantities agree with the new masses:
  the world's subtree mass is the model's total, and the subtree centre of mass is the
  mass-weighted mean of the bodies' centres (a stale subtree mass would scale it)."""
  env = make_env("Ant-v5", mass_scale=2.0)
  try:
    xml_total = env.model.body_mass.sum()
    env.reset()
    env.step(np.zeros(8, np.float32))
    model, data = env.model, env.gym_env.unwrapped.data
    assert model.body_subtreemass[0] == pytest.approx(2.0 * xml_total)
    centre = (model.body_mass[:, None] * data.xipos).sum(axis=0) / model.body_mass.sum()
    np.testing.assert_allclose(data.subtree_com[0], centre, atol=1e-9)
    env.set_state({"mass_scale": 1.0})
    env.reset()
    assert env.model.body_subtreemass[0] == pytest.approx(xml_total)
  finally:
    env.close()


def test_heavier_bodies_move_differently_in_the_engine():
  """The scaled masses are the ones MuJoCo integrates: with mass and inertia tripled and the
  motors' forces unchanged, the same actions from the same start give another trajectory."""
  trajectories = []
  for scale in (1.0, 3.0):
    env = make_env(mass_scale=scale)
    try:
      env.seed_next_reset(5)
      env.reset()
      positions = []
      for _ in range(10):
        env.step(np.ones(6, np.float32))
        positions.append(env.gym_env.unwrapped.data.qpos.copy())
      trajectories.append(np.array(positions))
    finally:
      env.close()
  assert np.abs(trajectories[0] - trajectories[1]).max() > 1e-3


def test_spreads_draw_within_bounds_and_seeded_episodes_repeat_their_physics():
  env = make_env("Hopper-v5", mass_scale=1.5, mass_scale_spread=0.4, friction_scale_spread=2.0,
                 friction_scale_distribution="normal")
  try:
    env.seed(1)
    drawn = []
    for _ in range(8):
      env.reset()
      drawn.append(env.model_scales())
    masses = [physics["mass_scale"] for physics in drawn]
    frictions = [physics["friction_scale"] for physics in drawn]
    assert all(1.1 - 1e-6 <= mass <= 1.9 + 1e-6 for mass in masses) and len(set(masses)) == 8
    assert all(0.01 - 1e-6 <= friction <= 10.0 for friction in frictions)
    recorded = env.pop_episode_states()
    assert [episode["mass_scale"] for episode in recorded] == pytest.approx(masses)
    for seed in (11, 12):
      env.seed_next_reset(seed)
      first_observation = env.reset().observation
      first = env.model_scales()
      env.reset()  # another draw in between
      env.seed_next_reset(seed)
      np.testing.assert_array_equal(env.reset().observation, first_observation)
      assert env.model_scales() == first
  finally:
    env.close()


def test_a_curriculum_over_mass_scale_applied_by_a_worker(tmp_path):
  config = tmp_path / "config.json"
  config.write_text(
      json.dumps({
          "env_id": "HalfCheetah-v5",
          "env_kwargs": {
              "friction_scale": 0.8},
          "max_episode_steps": 20,
          "hyperparameters": {
              **TINY_HYPERPARAMETERS, "train_steps_per_iteration": 1,
              "num_iterations": 1000},
          "curriculum": {
              "mass_scale": {
                  "iters": [100, 200, 300],
                  "range": [1.0, 3.0]}}}))
  from sac_system.train_params_base import load_params
  from sac_system.workers import Worker
  params = load_params(GYM_PARAMS, str(config))
  worker = Worker(params, 0, str(tmp_path), variable_source=FakeVariables([0]),
                  replay_writer=RecordingWriter())
  env = worker.collect_envs[0]
  try:
    for iteration, mass_scale in [(0, 1.0), (99, 1.0), (100, 1.0), (199, 1.0), (200, 2.0),
                                  (250, 2.0), (300, 3.0), (900, 3.0)]:
      worker.apply_curriculum(iteration)
      env.reset()
      assert env.model_scales() == pytest.approx({
          "mass_scale": mass_scale,
          "friction_scale": 0.8,
          "damping_scale": 1.0}), iteration
    assert worker.eval_env.model_scales()["mass_scale"] == 1.0  # eval keeps its own physics
  finally:
    for built in worker.collect_envs + [worker.eval_env]:
      built.close()


def test_an_inherited_disable_is_not_a_backend_choice(monkeypatch):
  """MUJOCO_GL=disable, which training processes set and children inherit, does not stop a
  video: the renderer gets EGL or OSMesa. A user's own backend is kept."""
  code = ("from sac_system.envs import mujoco_env; import os; "
          "print(mujoco_env.ensure_headless_gl(), os.environ['MUJOCO_GL'])")
  for inherited, expected in (("disable", {"egl",
                                           "osmesa"}), ("off", {"egl",
                                                                "osmesa"}), ("osmesa", {"osmesa"})):
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            timeout=120, env={
                                **os.environ, "MUJOCO_GL": inherited})
    assert result.returncode == 0, result.stderr[-2000:]
    chosen, in_environment = result.stdout.split()
    assert chosen in expected and in_environment == chosen, (inherited, result.stdout)


def test_a_missing_gl_library_is_one_line_naming_the_package(monkeypatch):
  from sac_system.envs import mujoco_env
  monkeypatch.setattr(mujoco_env, "_USER_GL", "")
  monkeypatch.setattr(mujoco_env.ctypes.util, "find_library", lambda name: None)
  with pytest.raises(mujoco_env.MissingGLError) as error:
    mujoco_env.ensure_headless_gl()
  assert "apt-get install libegl1" in str(error.value) and "\n" not in str(error.value)


def _run_py(exp_dir, config, *flags):
  result = subprocess.run([
      sys.executable, "sac_system/run.py", "--params", "sac_system/envs/gym_params.py", "--exp_dir",
      str(exp_dir), "--config",
      str(config), "--checkpoint", "latest", "--seed", "108", *flags], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  return result


@pytest.mark.slow
def test_a_tiny_hopper_run_its_video_and_a_mass_by_friction_grid(tmp_path):
  config = tmp_path / "config.json"
  config.write_text(
      json.dumps({
          "env_id": "Hopper-v5",
          "env_kwargs": {
              "mass_scale_spread": 0.2},
          "eval_env_kwargs": {
              "mass_scale_spread": 0.0},
          "max_episode_steps": 30,
          "hyperparameters": {
              **TINY_HYPERPARAMETERS, "steps_per_item": 4,
              "eval_interval": 3,
              "eval_episodes": 1}}))
  variables = write_variables(tmp_path, config, name="hopper")
  result = subprocess.run([os.path.join(REPO, "run_script.sh"), variables], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  exp_dir = tmp_path / "logs" / "hopper"
  records = [json.loads(line) for line in open(exp_dir / "metrics.jsonl")]
  assert max(r["train_step"] for r in records if r["source"] == "learner") == 60
  assert [r for r in records if "eval/average_return" in r]
  import gymnasium
  info = json.load(open(exp_dir / "run_info.json"))  # what plots draw as "solved"
  assert info["reward_threshold"] == gymnasium.spec("Hopper-v5").reward_threshold == 3800.0
  # the randomized collect episodes report their drawn mass scales
  drawn = [value for r in records for key, value in r.items() if "mass_scale" in key]
  assert drawn and all(0.8 - 1e-6 <= value <= 1.2 + 1e-6 for value in drawn)
  assert sorted(os.listdir(exp_dir / "policies" / "checkpoints"))[-1] == \
      "policy_checkpoint_0000000060"

  _run_py(exp_dir, config, "--num_episodes", "2")
  first = json.load(open(exp_dir / "eval" / "policy_checkpoint_0000000060_seed108.json"))
  _run_py(exp_dir, config, "--num_episodes", "2", "--no_video")
  again = json.load(open(exp_dir / "eval" / "policy_checkpoint_0000000060_seed108.json"))
  assert again["returns"] == first["returns"] and again["lengths"] == first["lengths"]
  import imageio
  with imageio.get_reader(str(exp_dir / "videos" / "policy_checkpoint_0000000060_seed108.mp4")) \
      as reader:
    frame_count = reader.count_frames()
    frame = reader.get_data(frame_count // 2)
  assert frame_count == sum(length + 1 for length in first["lengths"])  # reset frame + steps
  assert frame.ndim == 3 and frame.shape[2] == 3 and frame.std() > 5  # a scene, not blank

  grid = _run_py(exp_dir, config, "--num_episodes", "1", "--grid", "mass_scale=0.5:2:2", "--grid",
                 "friction_scale=0.5,1.5")
  base = exp_dir / "eval" / ("robustness_policy_checkpoint_0000000060_mass_scale-x-friction_scale"
                             "_seed108")
  assert "wrote" in grid.stdout and os.path.getsize(str(base) + ".png") > 1000
  with open(str(base) + ".csv") as table:
    rows = list(csv.DictReader(table))
  assert sorted((float(r["mass_scale"]), float(r["friction_scale"])) for r in rows) == [(0.5, 0.5),
                                                                                        (0.5, 1.5),
                                                                                        (2.0, 0.5),
                                                                                        (2.0, 1.5)]
  # the same seeded episode under other physics: the returns differ between cells
  assert len({r["mean_return"] for r in rows}) > 1
