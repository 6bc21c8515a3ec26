"""Checks an environment before training: builds it as a run would, steps it with random
actions, applies every curriculum value, and reports what the contract has and lacks
(docs/your_own_environment.md).

    .venv/bin/python sac_system/check_env.py examples/point_mass/training_variables.sh
    .venv/bin/python sac_system/check_env.py --params <params>.py --config <config>.json

First the launcher's own check (the params file, the JSON config, both environments built,
one reset and one step each, every curriculum value), so a run this command passes starts;
then a longer random rollout (observations against the spec and its bounds, rewards, episode
ends, time per step), whether seeding reproduces an episode, every curriculum value applied
with set_state and stepped, and one rendered frame.
Exit status: 0 ready to train, 1 a problem found (each one line), 2 bad input (one line).
"""

import argparse
import sys
import time
from typing import List, Optional

import numpy as np


def rollout(env, steps: int, rng: np.random.Generator) -> dict:
  """`steps` random steps from a reset: episodes, lengths, rewards, observation range and
  the problems seen (first of each kind)."""
  from sac_system import env_contract
  spec = env_contract.leaves(env.observation_spec())[0]
  problems: List[str] = []
  lengths, returns, rewards = [], [], []
  low, high = np.inf, -np.inf
  time_step = env.reset()
  problems += env_contract.time_step_problems(env, time_step, "reset()")
  episode_return, length, started = 0.0, 0, time.perf_counter()
  outside = 0
  for _ in range(steps):
    time_step = env.step(env_contract.random_action(env, rng))
    for problem in env_contract.time_step_problems(env, time_step, "step()"):
      if problem not in problems:
        problems.append(problem)
    observation = np.asarray(env_contract.leaves(time_step.observation)[0], np.float64)
    if hasattr(spec, "minimum") and observation.shape == tuple(
        spec.shape) and (np.any(observation < spec.minimum) or np.any(observation > spec.maximum)):
      outside += 1
    low, high = min(low, float(observation.min())), max(high, float(observation.max()))
    reward = float(np.asarray(time_step.reward).reshape(-1)[0])
    rewards.append(reward)
    episode_return += reward
    length += 1
    if time_step.is_last():
      lengths.append(length)
      returns.append(episode_return)
      episode_return, length = 0.0, 0
      time_step = env.reset()
  seconds = time.perf_counter() - started
  if outside:
    problems.append(f"{outside} of {steps} observations fall outside observation_spec's bounds "
                    "(a BoundedArraySpec's bounds must hold every observation; use ArraySpec "
                    "for unbounded ones)")
  return {
      "episodes": len(lengths),
      "lengths": lengths,
      "returns": returns,
      "rewards": (min(rewards), max(rewards)) if rewards else (0.0, 0.0),
      "observations": (low, high),
      "ms_per_step": 1000 * seconds / max(steps, 1),
      "problems": problems}


def seeding_reproduces(env) -> Optional[bool]:
  """Whether two episodes started from the same seed begin and continue alike (None: the env
  has no seeding)."""
  from sac_system import env_contract
  if not env_contract.seeded(env):
    return None
  firsts = []
  for _ in range(2):
    env.seed_next_reset(1234)
    observations = [np.asarray(env_contract.leaves(env.reset().observation)[0])]
    rng = np.random.default_rng(0)
    for _ in range(5):
      time_step = env.step(env_contract.random_action(env, rng))
      observations.append(np.asarray(env_contract.leaves(time_step.observation)[0]))
      if time_step.is_last():
        break
    firsts.append(observations)
  return len(firsts[0]) == len(firsts[1]) and all(
      np.array_equal(a, b) for a, b in zip(firsts[0], firsts[1]))


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("variables", nargs="?", help="training-variables file (names the params "
                      "file and the JSON config)")
  parser.add_argument("--params", help="params file (instead of a variables file)")
  parser.add_argument("--config", help="JSON config (with --params)")
  parser.add_argument("--steps", type=int, default=2000, help="random steps to take (2000)")
  args = parser.parse_args(argv)
  if bool(args.variables) == bool(args.params) or bool(args.params) != bool(args.config):
    parser.error("give a training-variables file, or --params and --config")
  from sac_system import program
  program.setup_process("check_env")
  program.import_quietly("sac_system.envs.gym_env")  # TensorFlow's start-up noise kept quiet
  from sac_system import constants
  from sac_system import env_contract
  from sac_system import errors
  from sac_system import launcher
  from sac_system.curriculum import Curriculum
  try:
    if args.variables:
      from sac_system.training_variables import load_training_variables
      variables = load_training_variables(args.variables, constants.REPO_ROOT)
      params_path, config_path = variables.params_path, variables.config_path
    else:
      params_path, config_path = args.params, args.config
    warnings: List[str] = []
    params = launcher.check_params_files(params_path, config_path, warn=warnings.append)
  except errors.UserInputError as error:
    return errors.report(error)
  print(f"params {params_path}\nconfig {config_path}")
  print("the launcher's check: passed (params, config, both environments, curriculum values)")
  for line in warnings:
    print(line)
  problems: List[str] = []
  env = params.make_collect_env(seed=params.seed)
  try:
    inner = env_contract.unwrapped(env)
    observation = env_contract.leaves(env.observation_spec())[0]
    action = env_contract.leaves(env.action_spec())[0]
    print(f"environment {type(inner).__name__}: observation {tuple(observation.shape)} "
          f"{np.dtype(observation.dtype).name}, action {tuple(action.shape)} "
          f"{np.dtype(action.dtype).name} in [{np.min(action.minimum):g}, "
          f"{np.max(action.maximum):g}]")
    print("contract (docs/your_own_environment.md):")
    for name, present, what in env_contract.describe(env):
      print(f"  {'ok     ' if present else 'missing'}  {name:<17} {what}")
    result = rollout(env, args.steps, np.random.default_rng(params.seed))
    problems += result["problems"]
    lengths = result["lengths"]
    print(f"random rollout: {args.steps} steps, {result['episodes']} episodes ended"
          + (f" (length {min(lengths)}-{max(lengths)}, return {np.mean(result['returns']):.3g} "
             f"on average)" if lengths else "")
          + f", rewards in [{result['rewards'][0]:.3g}, {result['rewards'][1]:.3g}], "
          f"observations in [{result['observations'][0]:.3g}, {result['observations'][1]:.3g}]"
          f", {result['ms_per_step']:.3f} ms per step")
    if not lengths:
      problems.append(f"no episode ended in {args.steps} random steps: evaluation runs whole "
                      "episodes, so _step must end them (ts.termination, or ts.truncation at "
                      "a time limit)")
    reproduces = seeding_reproduces(env)
    if reproduces is None:
      print("seeding: none (episodes are not reproducible)")
    elif reproduces:
      print("seeding: the same seed gives the same episode")
    else:
      problems.append("seed_next_reset/seed: two episodes from the same seed differ; "
                      "evaluations will not be reproducible")
  finally:
    env.close()
  curriculum = Curriculum.from_config(params.env_config.get("curriculum"), config_path)
  for name, values in curriculum.all_values().items():
    env = params.make_collect_env(seed=params.seed)
    try:
      rng = np.random.default_rng(0)
      for value in values:
        try:
          env_contract.try_state(env, {name: value}, rng)
        except Exception as error:  # noqa: BLE001  the user's set_state may raise anything
          problems.append(f"curriculum.{name}: set_state({{{name!r}: {value:g}}}) then a reset "
                          f"and a step raised {type(error).__name__}: {error}")
          break
      else:
        print(f"curriculum {name}: {len(values)} values applied with set_state, each reset "
              f"and stepped ({values[0]:g} .. {values[-1]:g})")
    finally:
      env.close()
  if env_contract.implements(env, "render"):
    env = params.make_eval_env()
    try:
      env.enable_rendering()
      env.reset()
      frame = np.asarray(env.render())
      if frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8:
        print(f"render: a {frame.shape[0]}x{frame.shape[1]} RGB frame (run.py's videos)")
      else:
        problems.append(f"render() returned {frame.shape} {frame.dtype}; videos need height x "
                        "width x 3 uint8")
    except Exception as error:  # noqa: BLE001  the user's render may raise anything
      problems.append(f"render() raised {type(error).__name__}: {error}")
    finally:
      env.close()
  for problem in problems:
    print(f"problem: {problem}")
  if problems:
    print(f"not ready: {len(problems)} problem(s)")
    return 1
  print("ready to train: ./run_script.sh " + (args.variables or "<your variables file>"))
  return 0


if __name__ == "__main__":
  sys.exit(main())
