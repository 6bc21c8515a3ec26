#!/usr/bin/env python3
"""Plots training curves from one or more runs' metrics.jsonl (overlaid for comparison).

    .venv/bin/python scripts/plot_training.py logs/lunar_lander [logs/other ...] [-o out.png]

Draws greedy eval return (mean and min-max across workers) vs env steps and vs wall time,
collection episode return, critic and actor losses, alpha, and curriculum values when a run
has them. Default output: EXP/training.png of the first run.
"""

import argparse
import os
import sys

from sac_system import plotting
from sac_system.constants import TRAINING_PLOT


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("exp_dirs", nargs="+", help="experiment directories (logs/NAME)")
  parser.add_argument("-o", "--output", help="PNG to write (default: EXP/training.png)")
  args = parser.parse_args(argv)
  for exp_dir in args.exp_dirs:
    if not os.path.isdir(exp_dir):
      print(f"error: {exp_dir}: no such experiment directory", file=sys.stderr)
      return 2
  output = args.output or os.path.join(args.exp_dirs[0], TRAINING_PLOT)
  try:
    plotting.plot_training(args.exp_dirs, output)
  except ValueError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  print(f"wrote {output}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
