"""The gymnasium -> tf-agents adapter and the Lunar Lander environment."""

import numpy as np
import pytest

import tiny_env  # registers the tiny env
from sac_system.envs.gym_env import GymnasiumEnvironment
from sac_system.envs.lunar_lander_env import LunarLanderEnvironment


def run_until_last(env, action):
  time_step = env.reset()
  steps = 0
  while not time_step.is_last():
    time_step = env.step(action)
    steps += 1
  return time_step, steps


def test_specs_are_float32_and_bounded():
  env = GymnasiumEnvironment(tiny_env.ENV_ID)
  assert env.observation_spec().dtype == np.float32 and env.observation_spec().shape == (2,)
  spec = env.action_spec()
  assert spec.dtype == np.float32 and spec.shape == (1,)
  assert float(spec.minimum[0]) == -1.0 and float(spec.maximum[0]) == 1.0
  time_step = env.reset()
  assert time_step.observation.dtype == np.float32 and time_step.is_first()


def test_time_limit_truncation_keeps_discount_one():
  env = GymnasiumEnvironment(tiny_env.ENV_ID, {"target": 1.0})
  env.seed(0)
  # moving away from the target never terminates: only the 20-step time limit ends it
  time_step, steps = run_until_last(env, np.array([-1.0], np.float32))
  assert steps == 20
  assert time_step.is_last() and float(time_step.discount) == 1.0


def test_termination_has_discount_zero():
  env = GymnasiumEnvironment(tiny_env.ENV_ID, {"target": 0.0}, max_episode_steps=200)
  env.seed(1)
  time_step = env.reset()
  while not time_step.is_last():
    x = float(time_step.observation[0])
    time_step = env.step(np.array([np.clip(-4 * x, -1, 1)], np.float32))
  assert abs(float(time_step.observation[0])) < 0.1
  assert float(time_step.discount) == 0.0


def test_max_episode_steps_override():
  env = GymnasiumEnvironment(tiny_env.ENV_ID, {"target": 1.0}, max_episode_steps=7)
  assert run_until_last(env, np.array([-1.0], np.float32))[1] == 7


def test_auto_reset_after_last_step():
  env = GymnasiumEnvironment(tiny_env.ENV_ID, {"target": 1.0}, max_episode_steps=3)
  run_until_last(env, np.array([-1.0], np.float32))
  assert env.step(np.array([0.0], np.float32)).is_first()


def first_observations(env, episodes):
  return [env.reset().observation.copy() for _ in range(episodes)]


def test_seeding_is_reproducible_and_continues_the_stream():
  a, b, c = (GymnasiumEnvironment(tiny_env.ENV_ID) for _ in range(3))
  a.seed(42), b.seed(42), c.seed(43)
  obs_a, obs_b, obs_c = (first_observations(e, 4) for e in (a, b, c))
  np.testing.assert_array_equal(obs_a, obs_b)
  assert not np.allclose(obs_a, obs_c)
  assert len({float(o[0]) for o in obs_a}) == 4  # later resets are not replays of the first


def test_seed_next_reset_fixes_one_episode():
  env = GymnasiumEnvironment(tiny_env.ENV_ID)
  env.seed_next_reset(7)
  first = env.reset().observation.copy()
  env.reset()
  env.seed_next_reset(7)
  np.testing.assert_array_equal(env.reset().observation, first)


def test_set_state_applies_at_next_reset_not_mid_episode():
  env = GymnasiumEnvironment(tiny_env.ENV_ID, {"target": 0.5})
  env.seed(0)
  time_step = env.reset()
  env.set_state({"target": -0.25})
  assert env.get_state()["target"] == -0.25
  time_step = env.step(np.array([0.0], np.float32))
  assert float(time_step.observation[1]) == 0.5  # the running episode keeps its target
  time_step = env.reset()
  assert float(time_step.observation[1]) == -0.25


def test_set_state_set_before_first_reset():
  env = GymnasiumEnvironment(tiny_env.ENV_ID, {"target": 0.5})
  env.set_state({"target": 0.75})
  assert float(env.reset().observation[1]) == 0.75


def test_generic_set_state_rejects_unknown_keys_and_bad_values():
  env = GymnasiumEnvironment(tiny_env.ENV_ID)
  assert env.state_keys() == ["target"]
  with pytest.raises(ValueError, match=r"unknown set_state key 'mass'.*known: target"):
    env.set_state({"mass": 1.0})
  with pytest.raises(ValueError, match="target must be in"):
    env.set_state({"target": 5.0})


def test_rejects_discrete_action_spaces():
  with pytest.raises(ValueError, match="continuous Box"):
    GymnasiumEnvironment("CartPole-v1")


def test_lunar_lander_set_state_changes_physics_at_reset():
  env = LunarLanderEnvironment()
  env.seed(3)
  env.reset()
  lander = env.gym_env.unwrapped
  env.set_state({"gravity": -5.0, "enable_wind": True, "wind_power": 5.0, "turbulence_power": 0.5})
  env.step(np.zeros(2, np.float32))  # mid-episode: the old world and no wind go on
  assert lander.world.gravity[1] == pytest.approx(-10.0) and not lander.enable_wind
  env.reset()
  assert lander.world.gravity[1] == pytest.approx(-5.0)
  assert lander.enable_wind and lander.wind_power == 5.0 and lander.turbulence_power == 0.5
  for _ in range(5):
    env.step(np.zeros(2, np.float32))  # wind applied without error
  state = env.get_state()
  assert {
      key: state[key] for key in ("gravity", "enable_wind", "wind_power", "turbulence_power")} == {
          "gravity": -5.0,
          "enable_wind": True,
          "wind_power": 5.0,
          "turbulence_power": 0.5}
  assert state["gravity_spread"] == 0.0 and state["wind_probability"] is None


@pytest.mark.parametrize("state, words", [
    ({
        "mass": 1.0}, "unknown set_state key 'mass'"),
    ({
        "gravity": -12.0}, "gravity must be in (-12.0, 0.0)"),
    ({
        "gravity": 0.0}, "gravity must be in"),
    ({
        "wind_power": 20.5}, "wind_power must be in [0.0, 20.0]"),
    ({
        "turbulence_power": 2.5}, "turbulence_power must be in [0.0, 2.0]"),
    ({
        "gravity": "low"}, "must be a number"),
    ({
        "enable_wind": 0.5}, "true/false"),
    ({
        "gravity_spread": -1.0}, "gravity_spread must be in [0, 12.0]"),
    ({
        "turbulence_power_spread": 3.0}, "turbulence_power_spread must be in [0, 2.0]"),
    ({
        "wind_power_distribution": "gamma"}, "must be one of uniform, normal"),
    ({
        "wind_probability": 1.5}, "wind_probability must be null or in [0, 1]"),])
def test_lunar_lander_rejects_bad_state(state, words):
  env = LunarLanderEnvironment()
  with pytest.raises(ValueError) as error:
    env.set_state(state)
  assert words in str(error.value)
  if "unknown" in words:
    assert ("enable_wind, gravity, gravity_distribution, gravity_spread, turbulence_power, "
            "turbulence_power_distribution, turbulence_power_spread, wind_power, "
            "wind_power_distribution, wind_power_spread, wind_probability") in str(error.value)


def test_lunar_lander_seeded_episodes_repeat():
  returns = []
  for _ in range(2):
    env = LunarLanderEnvironment()
    env.seed(11)
    time_step, total = env.reset(), 0.0
    while not time_step.is_last():
      time_step = env.step(np.array([0.1, 0.0], np.float32))
      total += float(time_step.reward)
    returns.append(total)
  assert returns[0] == returns[1]


def test_generic_params_report_unusable_envs_against_the_config(tmp_path):
  import json

  from conftest import REPO
  from sac_system.errors import UserInputError
  from sac_system.train_params_base import load_params
  gym_params = f"{REPO}/sac_system/envs/gym_params.py"
  for content, key, words in (({
      "env_id": "CartPole-v1"}, "env_id", "needs a continuous Box action space"), ({
          "env_id": "Pendulum-v1",
          "env_kwargs": {
              "mass": 2}}, "env_kwargs", "Pendulum-v1 rejects {'mass': 2}: TypeError")):
    config = tmp_path / "c.json"
    config.write_text(json.dumps(content))
    params = load_params(gym_params, str(config))
    with pytest.raises(UserInputError) as error:
      params.make_collect_env()
    assert str(error.value).startswith(f"{config}: {key}: ") and words in str(error.value)


def test_step_latency_waits_without_using_the_cpu(tmp_path):
  import json
  import time

  from conftest import REPO
  from sac_system.errors import UserInputError
  from sac_system.train_params_base import load_params
  gym_params = f"{REPO}/sac_system/envs/gym_params.py"
  config = tmp_path / "c.json"
  config.write_text(json.dumps({"env_id": "Pendulum-v1", "step_latency_seconds": 0.05}))
  for env in (load_params(gym_params, str(config)).make_collect_env(),
              load_params(gym_params, str(config)).make_eval_env()):
    env.reset()
    wall, cpu = time.monotonic(), time.process_time()
    for _ in range(4):
      env.step(np.zeros(1, np.float32))
    assert time.monotonic() - wall >= 0.2
    assert time.process_time() - cpu < 0.1
  for bad in (-1, "fast", 11, True):
    config.write_text(json.dumps({"env_id": "Pendulum-v1", "step_latency_seconds": bad}))
    with pytest.raises(UserInputError) as error:
      load_params(gym_params, str(config))
    assert f"step_latency_seconds: expected seconds from 0 to 10, got {bad!r}" in str(error.value)
