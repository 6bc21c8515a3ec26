#!/usr/bin/env python3
"""The MuJoCo reference run: SBX's SAC (Stable-Baselines3 in JAX) on a gymnasium -v5 task with
the settings of the project's MuJoCo configs (config/hopper.json, config/halfcheetah.json),
evaluated the way the project's workers evaluate (greedy episodes on given seeds).

    .venv-peers/bin/python scripts/peer_sbx_mujoco.py --env_id Hopper-v5 --seed 0 \\
        --eval_seeds 11,12,13,14,15 --eval_interval 10000 --total_timesteps 110000 \\
        --output /tmp/peer_hopper_seed0.jsonl

Runs in its own environment, .venv-peers/ (scripts/peer_requirements.txt), and imports nothing
from sac_system: `scripts/benchmark.py --mujoco ... --mujoco_peer` passes it the eval episode
seeds our worker 0 uses. Settings: (256, 256) ReLU actor and twin critics, Adam 3e-4 for
actor, critics and temperature, automatic temperature from 1.0 with target entropy -dim(A),
gamma 0.99, tau 0.005, batch 256, buffer 1M, 10,000 uniformly random steps before the first
update, then one gradient step per env step; one env, on the CPU.

Every --eval_interval env steps (from the first update on, like our workers) it plays one
greedy episode per --eval_seeds seed on a separate eval env (default kwargs and time limit),
each from env.reset(seed=that seed), and appends a JSON line to --output: env_steps,
grad_steps, wall_seconds (since the script's first statement), eval_seconds, average_return,
returns, lengths, cpu_seconds. At --total_timesteps or --time_limit_seconds it writes
{"final": true, "reason": "done" | "time_limit", ...}.
"""
import time

# The clock starts first, before the imports: wall_seconds counts them (import_seconds).
START_TIME = time.time()

import argparse  # noqa: E402 (after the clock starts)
import json  # noqa: E402
import os  # noqa: E402

WARMUP_STEPS = 10_000


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--env_id", required=True, help="e.g. Hopper-v5")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--eval_seeds", required=True, help="comma-separated episode seeds")
  parser.add_argument("--eval_interval", type=int, default=10_000, help="env steps")
  parser.add_argument("--total_timesteps", type=int, default=110_000)
  parser.add_argument("--time_limit_seconds", type=float, default=24 * 3600.0)
  parser.add_argument("--output", required=True, help="JSON lines file (replaced)")
  args = parser.parse_args()
  eval_seeds = [int(seed) for seed in args.eval_seeds.split(",")]

  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  import gymnasium as gym
  import numpy as np
  from sbx import SAC
  from stable_baselines3.common.callbacks import BaseCallback
  import_seconds = time.time() - START_TIME

  env = gym.make(args.env_id)
  eval_env = gym.make(args.env_id)
  model = SAC("MlpPolicy", env, learning_rate=3e-4, buffer_size=1_000_000,
              learning_starts=WARMUP_STEPS, batch_size=256, tau=0.005, gamma=0.99, train_freq=1,
              gradient_steps=1, ent_coef="auto", target_entropy="auto",
              policy_kwargs={"net_arch": [256, 256]}, seed=args.seed, verbose=0)
  os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
  with open(args.output, "w"):
    pass  # a new file each run

  def write(record: dict) -> None:
    with open(args.output, "a") as output:
      output.write(json.dumps(record) + "\n")

  def evaluate(env_steps: int) -> None:
    started = time.time()
    returns, lengths = [], []
    for seed in eval_seeds:
      observation, _ = eval_env.reset(seed=seed)
      episode_return, length, done = 0.0, 0, False
      while not done:
        action, _ = model.predict(observation, deterministic=True)
        observation, reward, terminated, truncated, _ = eval_env.step(action)
        episode_return += float(reward)
        length += 1
        done = terminated or truncated
      returns.append(episode_return)
      lengths.append(length)
    write({
        "seed": args.seed,
        "env_steps": env_steps,
        "grad_steps": max(0, env_steps - WARMUP_STEPS),
        "wall_seconds": round(time.time() - START_TIME, 3),
        "import_seconds": import_seconds,
        "eval_seconds": round(time.time() - started, 3),
        "average_return": float(np.mean(returns)),
        "returns": returns,
        "lengths": lengths,
        "cpu_seconds": round(time.process_time(), 3)})

  class Evaluations(BaseCallback):

    def __init__(self):
      super().__init__()
      self.reason = "done"

    def _on_step(self) -> bool:
      steps = self.num_timesteps
      # the first evaluation right after the first update, then every eval_interval steps
      if steps == WARMUP_STEPS + 1 or (steps > WARMUP_STEPS and steps % args.eval_interval == 0):
        evaluate(steps)
      if time.time() - START_TIME > args.time_limit_seconds:
        self.reason = "time_limit"
        return False
      return True

  callback = Evaluations()
  model.learn(total_timesteps=args.total_timesteps, callback=callback)
  write({
      "final": True,
      "reason": callback.reason,
      "env_steps": int(model.num_timesteps),
      "wall_seconds": round(time.time() - START_TIME, 3)})
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
