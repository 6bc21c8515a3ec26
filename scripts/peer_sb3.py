#!/usr/bin/env python3
"""The benchmark's peer: Stable-Baselines3 SAC on LunarLanderContinuous-v3 with the RL Zoo's
hyperparameters, evaluated like the project's runs (greedy episodes on fixed seeds).

    .venv-peers/bin/python scripts/peer_sb3.py --seed 0 --eval_seeds 1,2,3 --eval_interval 5000 \\
        --time_limit_seconds 1800 --output /tmp/peer.jsonl [--stop_at_return 200]

Runs in its own environment, .venv-peers/ (scripts/peer_requirements.txt: PyTorch, no
TensorFlow), so it imports nothing from sac_system. The RL Zoo's sac.yml for this task: batch
256, learning rate 7.3e-4 decaying linearly to 0 over --total_timesteps (lin_7.3e-4), buffer 1M,
automatic entropy, gamma 0.99, tau 0.01, one gradient step per env step after 10,000 random
steps, (400, 300) networks; one env, on the CPU.

Every --eval_interval env steps it plays one greedy episode on a separate eval env (default
kwargs and 1000-step limit) per --eval_seeds seed, each from env.reset(seed=that seed), and
appends a JSON line to --output (a new file each run): env_steps, wall_seconds (since the
script's first statement), import_seconds, eval_seconds, average_return, returns, grad_steps,
cpu_seconds (this process's CPU time). It stops when wall_seconds passes --time_limit_seconds
(checked every step), after the first eval whose mean reaches --stop_at_return, or at
--total_timesteps, and then writes {"final": true, "reason": "time_limit" | "solved" | "done",
...}.
"""
import time

# The clock starts first, before the imports: wall_seconds counts them (import_seconds).
START_TIME = time.time()

import argparse  # noqa: E402 (after the clock starts)
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

ENV_ID = "LunarLanderContinuous-v3"
INITIAL_LEARNING_RATE = 7.3e-4


def linear_learning_rate(progress_remaining: float) -> float:
  """The zoo's lin_7.3e-4: SB3 passes progress_remaining, 1 at the start and 0 at the end."""
  return progress_remaining * INITIAL_LEARNING_RATE


class SeededEval:
  """SB3's per-step callback (`callback(locals, globals) -> bool`, wrapped in ConvertCallback):
  the time limit on every step, the greedy evals on the seeds every `eval_interval` env steps.
  SB3's EvalCallback cannot give each episode its own reset seed."""

  def __init__(self, model, eval_env, args, output, import_seconds: float):
    self.model = model
    self.eval_env = eval_env
    self.seeds = args.eval_seeds
    self.interval = args.eval_interval
    self.time_limit = args.time_limit_seconds
    self.stop_at_return = args.stop_at_return
    self.output = output
    self.import_seconds = import_seconds
    self.reason = "done"  # unless a limit or the target return stops the run first

  def write(self, record: dict) -> None:
    self.output.write(json.dumps(record) + "\n")
    self.output.flush()

  def grad_steps(self) -> int:
    return int(self.model._n_updates)  # noqa: SLF001 (SB3 keeps the update count private)

  def episode_return(self, seed: int) -> float:
    observation, _ = self.eval_env.reset(seed=seed)
    total = 0.0
    while True:
      action, _ = self.model.predict(observation, deterministic=True)
      observation, reward, terminated, truncated, _ = self.eval_env.step(action)
      total += float(reward)
      if terminated or truncated:
        return total

  def __call__(self, _locals, _globals) -> bool:
    if time.time() - START_TIME >= self.time_limit:
      self.reason = "time_limit"
      return False
    steps = self.model.num_timesteps
    if steps % self.interval:
      return True
    eval_start = time.time()
    returns = [self.episode_return(seed) for seed in self.seeds]
    now = time.time()
    average = sum(returns) / len(returns)
    self.write({
        "env_steps": steps,
        "wall_seconds": now - START_TIME,
        "import_seconds": self.import_seconds,
        "eval_seconds": now - eval_start,
        "average_return": average,
        "returns": returns,
        "grad_steps": self.grad_steps(),
        "cpu_seconds": time.process_time()})
    if self.stop_at_return is not None and average >= self.stop_at_return:
      self.reason = "solved"
      return False
    return True


def seed_list(text: str) -> list:
  seeds = [int(seed) for seed in text.split(",") if seed.strip()]
  if not seeds:
    raise argparse.ArgumentTypeError("at least one seed")
  return seeds


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                   epilog=__doc__.split("\n\n", 1)[1],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--seed", type=int, required=True, help="SB3's seed (torch, env, actions)")
  parser.add_argument("--eval_seeds", type=seed_list, required=True,
                      help="comma-separated reset seeds, one greedy episode each per eval")
  parser.add_argument("--eval_interval", type=int, default=5000,
                      help="env steps between evals (default 5000)")
  parser.add_argument("--time_limit_seconds", type=float, required=True,
                      help="stop once this many seconds have passed since the script started")
  parser.add_argument("--output", required=True, help="JSON lines file to write")
  parser.add_argument("--total_timesteps", type=int, default=500_000,
                      help="env steps of the run and of the learning-rate decay (default 500k)")
  parser.add_argument("--stop_at_return", type=float, default=None,
                      help="stop after the first eval whose mean return is at least this")
  parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                      help="torch.set_num_threads (default: the CPUs this process may use)")
  parser.add_argument("--learning_starts", type=int, default=10_000,
                      help="random steps before learning (the zoo's 10000; lower only to test)")
  args = parser.parse_args(argv)
  if args.eval_interval <= 0 or args.total_timesteps <= 0 or args.threads <= 0:
    parser.error("--eval_interval, --total_timesteps and --threads must be positive")
  return args


def main(argv=None) -> int:
  args = parse_args(argv)
  import gymnasium as gym
  import torch
  from stable_baselines3 import SAC
  from stable_baselines3.common.callbacks import ConvertCallback
  from stable_baselines3.common.monitor import Monitor
  import_seconds = time.time() - START_TIME

  torch.set_num_threads(args.threads)
  model = SAC(
      "MlpPolicy",
      Monitor(gym.make(ENV_ID)),  # the zoo wraps the training env in a Monitor too
      batch_size=256,
      learning_rate=linear_learning_rate,
      buffer_size=1_000_000,
      ent_coef="auto",
      gamma=0.99,
      tau=0.01,
      train_freq=1,
      gradient_steps=1,
      learning_starts=args.learning_starts,
      policy_kwargs={"net_arch": [400, 300]},
      seed=args.seed,
      device="cpu",
      verbose=0)
  eval_env = gym.make(ENV_ID)
  with open(args.output, "w") as output:
    evaluator = SeededEval(model, eval_env, args, output, import_seconds)
    model.learn(total_timesteps=args.total_timesteps, callback=ConvertCallback(evaluator))
    evaluator.write({
        "final": True,
        "reason": evaluator.reason,
        "env_steps": model.num_timesteps,
        "wall_seconds": time.time() - START_TIME,
        "import_seconds": import_seconds,
        "grad_steps": evaluator.grad_steps(),
        "cpu_seconds": time.process_time()})
  eval_env.close()
  return 0


if __name__ == "__main__":
  sys.exit(main())
