"""Per-episode domain randomization of Lunar Lander's physics (draws, env, worker summary)."""

import numpy as np
import pytest

from sac_system.envs.lunar_lander_physics import DEFAULT_SETTINGS
from sac_system.envs.lunar_lander_physics import draw_physics
from sac_system.envs.lunar_lander_physics import validate_lunar_lander_state


def settings(**changes):
  return {**DEFAULT_SETTINGS, **validate_lunar_lander_state(changes)}


def draws(count=4000, seed=0, **changes):
  rng = np.random.default_rng(seed)
  chosen = settings(**changes)
  return [draw_physics(chosen, rng) for _ in range(count)]


def column(episodes, key):
  return np.array([episode[key] for episode in episodes], dtype=float)


def test_no_spread_keeps_the_physics_fixed():
  episodes = draws(50, gravity=-7.0, wind_power=3.0, enable_wind=True)
  assert all(e == {
      "gravity": -7.0,
      "enable_wind": True,
      "wind_power": 3.0,
      "turbulence_power": 1.5} for e in episodes)


def test_uniform_spread_covers_the_interval_cut_to_the_valid_range():
  gravity = column(draws(gravity=-10.0, gravity_spread=1.0), "gravity")
  assert gravity.min() >= -11.0 and gravity.max() <= -9.0
  assert gravity.min() < -10.9 and gravity.max() > -9.1
  assert abs(gravity.mean() + 10.0) < 0.05
  # Near a bound the interval is cut, never clipped into a spike at the bound.
  gravity = column(draws(gravity=-11.5, gravity_spread=2.0), "gravity")
  assert gravity.min() > -12.0 and gravity.max() <= -9.5
  assert np.mean(gravity < -11.98) < 0.01
  wind = column(draws(wind_power=19.0, wind_power_spread=5.0), "wind_power")
  assert wind.max() <= 20.0 and wind.min() >= 14.0


def test_normal_spread_has_the_given_std_and_stays_inside_open_bounds():
  # The seed's recipe: gravity ~ N(-10, 1) clipped to (-11.99, -0.01).
  gravity = column(draws(gravity=-10.0, gravity_spread=1.0, gravity_distribution="normal"),
                   "gravity")
  assert abs(gravity.mean() + 10.0) < 0.06 and abs(gravity.std() - 1.0) < 0.05
  assert gravity.min() >= -11.99 and gravity.max() <= -0.01
  turbulence = column(
      draws(turbulence_power=1.5, turbulence_power_spread=0.5,
            turbulence_power_distribution="normal"), "turbulence_power")
  assert turbulence.min() >= 0.0 and turbulence.max() <= 2.0
  assert np.mean(turbulence == 2.0) > 0.1  # N(1.5, 0.5) is above 2 about 16% of the time


def test_wind_probability_switches_wind_per_episode():
  assert column(draws(wind_probability=0.3), "enable_wind").mean() == pytest.approx(0.3, abs=0.03)
  assert column(draws(200, wind_probability=0.0, enable_wind=True), "enable_wind").max() == 0
  assert column(draws(200, wind_probability=None, enable_wind=True), "enable_wind").min() == 1


def test_draws_repeat_with_the_same_generator_seed():
  assert draws(20, seed=5, gravity_spread=2.0) == draws(20, seed=5, gravity_spread=2.0)
  assert draws(20, seed=5, gravity_spread=2.0) != draws(20, seed=6, gravity_spread=2.0)


def test_environment_redraws_physics_at_every_reset_and_records_them():
  from sac_system.envs.lunar_lander_env import LunarLanderEnvironment
  env = LunarLanderEnvironment(gravity_spread=2.0, wind_probability=0.5)
  env.seed(1)
  seen = []
  for _ in range(6):
    env.reset()
    physics = env.episode_physics()
    assert env.gym_env.unwrapped.world.gravity[1] == pytest.approx(physics["gravity"])
    seen.append(physics)
  recorded = env.pop_episode_states()
  assert recorded == seen and env.pop_episode_states() == []
  assert len({episode["gravity"] for episode in seen}) == 6
  assert all(-12.0 < episode["gravity"] <= -8.0 for episode in seen)
  env.close()


def test_environment_without_randomization_records_nothing():
  from sac_system.envs.lunar_lander_env import LunarLanderEnvironment
  env = LunarLanderEnvironment(gravity=-6.0)
  env.reset()
  env.reset()
  assert env.pop_episode_states() == []
  assert env.episode_physics()["gravity"] == -6.0
  env.close()


def test_a_fixed_episode_seed_always_gets_the_same_physics():
  """Evaluation on fixed seeds sees the same physics however many episodes came before."""
  from sac_system.envs.lunar_lander_env import LunarLanderEnvironment
  env = LunarLanderEnvironment(gravity_spread=3.0, turbulence_power_spread=1.0)
  env.seed_next_reset(42)
  env.reset()
  first = env.episode_physics()
  env.reset()
  env.reset()
  env.seed_next_reset(42)
  env.reset()
  assert env.episode_physics() == first
  env.close()


def test_a_curriculum_widens_the_interval_through_set_state():
  from sac_system.envs.lunar_lander_env import LunarLanderEnvironment
  env = LunarLanderEnvironment()
  env.seed(2)
  env.reset()
  assert env.episode_physics()["gravity"] == -10.0
  env.set_state({"gravity_spread": 1.5})
  for _ in range(20):
    env.reset()
  gravity = column(env.pop_episode_states(), "gravity")
  assert len(gravity) == 20 and gravity.min() >= -11.5 and gravity.max() <= -8.5
  assert gravity.std() > 0.3
  env.close()


def test_episode_states_are_summarized_per_report():
  from sac_system.metrics import summarize_episode_states
  assert summarize_episode_states([]) == {}
  summary = summarize_episode_states([{
      "gravity": -9.0,
      "enable_wind": True}, {
          "gravity": -11.0,
          "enable_wind": False}])
  assert summary == {
      "randomization/episodes": 2.0,
      "randomization/enable_wind/mean": 0.5,
      "randomization/enable_wind/min": 0.0,
      "randomization/enable_wind/max": 1.0,
      "randomization/gravity/mean": -10.0,
      "randomization/gravity/min": -11.0,
      "randomization/gravity/max": -9.0}


# ----- robustness grid (pure parts; the whole grid runs on a saved policy in test_end_to_end) --
@pytest.mark.parametrize("spec, expected", [
    ("gravity=-11:-5:4", ("gravity", [-11.0, -9.0, -7.0, -5.0])),
    ("wind_power=0,10,20", ("wind_power", [0.0, 10.0, 20.0])),
    ("enable_wind=1", ("enable_wind", [1.0])),
    (" g = 8:8:1", ("g", [8.0])),])
def test_grid_axes_parse(spec, expected):
  from sac_system.evaluation import parse_grid_axis
  assert parse_grid_axis(spec) == expected


@pytest.mark.parametrize("spec", [
    "gravity", "gravity=", "=1,2", "gravity=a,b", "gravity=1:2", "gravity=1:2:0", "gravity=1,1",
    "gravity=nan,1"])
def test_bad_grid_axes_are_one_line_errors(spec):
  from sac_system.errors import UserInputError
  from sac_system.evaluation import parse_grid_axis
  with pytest.raises(UserInputError) as error:
    parse_grid_axis(spec)
  assert str(error.value).startswith(f"--grid: {spec}: ") and "\n" not in str(error.value)


def test_grid_cells_fix_the_gridded_parameters():
  from sac_system.envs.lunar_lander_physics import STATE_KEYS
  from sac_system.evaluation import grid_cells
  cells = grid_cells([("gravity", [-10.0, -5.0]), ("wind_power", [0.0, 20.0]),
                      ("enable_wind", [1.0])], STATE_KEYS)
  assert [(c["gravity"], c["wind_power"]) for c in cells] == [(-10.0, 0.0), (-10.0, 20.0),
                                                              (-5.0, 0.0), (-5.0, 20.0)]
  assert all(c["gravity_spread"] == 0.0 and c["wind_power_spread"] == 0.0
             and c["wind_probability"] is None and c["enable_wind"] == 1.0 for c in cells)
  assert "turbulence_power_spread" not in cells[0]  # not gridded: the env's own setting stays
  assert grid_cells([("g", [8.0, 9.0])], ["g"]) == [{"g": 8.0}, {"g": 9.0}]


def test_grid_plots_a_heatmap_for_two_parameters_and_a_line_for_one(tmp_path):
  from sac_system import plotting
  rows = np.array([(g, w) for g in (-10.0, -5.0) for w in (0.0, 10.0, 20.0)])
  means = np.array([250.0, 200.0, 100.0, 260.0, 150.0, np.nan])
  plotting.plot_grid([("gravity", [-10.0, -5.0], rows[:, 0]),
                      ("wind_power", [0.0, 10.0, 20.0], rows[:, 1])], means, "t",
                     str(tmp_path / "heat.png"))
  plotting.plot_grid([("gravity", [-10.0, -5.0], np.array([-5.0, -10.0]))], np.array([1.0, 2.0]),
                     "t", str(tmp_path / "line.png"))
  for name in ("heat.png", "line.png"):
    assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
