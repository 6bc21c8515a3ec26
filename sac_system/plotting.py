"""Plots of training runs and checkpoint evaluations (matplotlib, headless; no TensorFlow).

`plot_training` reads each run's metrics.jsonl and draws, runs overlaid in one colour each:
greedy eval return (mean across workers, shaded min-max across workers) vs total env steps
and vs wall time, collection episode return, critic and actor losses, alpha, the curriculum
values in force when the run has a curriculum, and the per-episode randomized physics (mean,
shaded min-max) when the run randomizes them; a dashed line marks the env's "solved" return
(gymnasium's reward_threshold) when the run recorded one.
"""

import collections
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from sac_system import constants
from sac_system import episodes
from sac_system import files
from sac_system import metrics


def pyplot():
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def save_figure(figure, path: str) -> None:
  """Writes the figure atomically (a crash never leaves half a PNG)."""
  with files.atomic_path(os.path.abspath(path)) as temporary:
    figure.savefig(temporary, dpi=90)


def plot_checkpoint_returns(rows: Sequence[Tuple[int, str, float, float]], title: str,
                            path: str) -> None:
  """Return (mean +- std) vs train_step for rows of (train_step, checkpoint, mean, std)."""
  plt = pyplot()
  steps = np.array([row[0] for row in rows], dtype=float)
  means = np.array([row[2] for row in rows])
  stds = np.array([row[3] for row in rows])
  figure, axis = plt.subplots(figsize=(7, 4))
  axis.plot(steps, means, marker="o")
  axis.fill_between(steps, means - stds, means + stds, alpha=0.25)
  axis.set(xlabel="train_step", ylabel="greedy episode return", title=title)
  axis.grid(alpha=0.3)
  figure.tight_layout()
  save_figure(figure, path)
  plt.close(figure)


def _run_info(exp_dir: str) -> Dict[str, Any]:
  try:
    with open(os.path.join(exp_dir, constants.RUN_INFO_FILE)) as info_file:
      return json.load(info_file)
  except (OSError, ValueError):
    return {}


def _eval_round_length(exp_dir: str) -> int:
  """Train steps between evaluation rounds, from the run's resolved hyperparameters."""
  try:
    hyperparameters = _run_info(exp_dir)["hyperparameters"]
    return int(hyperparameters["eval_interval"] * hyperparameters["train_steps_per_iteration"])
  except (KeyError, TypeError):
    return 1


def reward_threshold(exp_dir: str) -> Optional[float]:
  """The env's "solved" return (gymnasium's reward_threshold) the run recorded, if any."""
  threshold = _run_info(exp_dir).get("reward_threshold")
  return None if threshold is None else float(threshold)


def load_run(exp_dir: str) -> Dict[str, np.ndarray]:
  """The series `plot_training` draws, from EXP/metrics.jsonl.

  Raises:
    ValueError: when the run has no metrics yet.
  """
  records = metrics.read_records(exp_dir)
  if not records:
    raise ValueError(f"{metrics.metrics_path(exp_dir)} has no records")
  clock = metrics.run_clock(records)  # minutes from the command, a resume's downtime left out
  learner = [r for r in records if r.get("source") == constants.LEARNER_PROGRAM]
  workers = [r for r in records if constants.is_worker_program(r.get("source", ""))]
  learner_times = np.array([r["time"] for r in learner])
  learner_env_steps = np.array([r["env_steps"] for r in learner])

  def total_env_steps(record):
    if len(learner_times):
      return float(np.interp(record["time"], learner_times, learner_env_steps))
    return float(record["env_steps"])

  series: Dict[str, np.ndarray] = {}
  round_length = _eval_round_length(exp_dir)
  rounds = collections.defaultdict(list)
  for record in workers:
    if record.get("eval/average_return") is not None:
      rounds[record["train_step"] // round_length].append(record)
  # what an environment reports of its episodes (`episode_metrics`, e.g. forward_distance)
  eval_metrics = sorted({
      k for group in rounds.values() for r in group for k in r
      if k.startswith("eval/") and k not in _EVAL_SUMMARY_KEYS})
  rows = []
  for key in sorted(rounds):
    group = rounds[key]
    returns = [r["eval/average_return"] for r in group]
    rows.append(
        (np.mean([total_env_steps(r) for r in group]),
         np.mean([clock(r["time"]) for r in group]) / 60.0, np.mean(returns), np.min(returns),
         np.max(returns), *[np.mean([r.get(m, np.nan) for r in group]) for m in eval_metrics]))
  table = np.array(rows).reshape(-1, 5 + len(eval_metrics))
  series.update(eval_env_steps=table[:, 0], eval_minutes=table[:, 1], eval_mean=table[:, 2],
                eval_min=table[:, 3], eval_max=table[:, 4])
  for index, key in enumerate(eval_metrics):
    series[key] = table[:, [0, 1, 5 + index]]
  collect = [r for r in workers if r.get("collect/average_return") is not None]
  series["collect_env_steps"] = np.array([total_env_steps(r) for r in collect])
  series["collect_return"] = np.array([r["collect/average_return"] for r in collect])
  for key in ("learner/critic_loss", "learner/actor_loss", "learner/alpha"):
    rows = [(r["train_step"], r[key]) for r in learner if r.get(key) is not None]
    series[key] = np.array(rows).reshape(-1, 2)
  curriculum = sorted({k for r in workers for k in r if k.startswith("curriculum/")})
  for key in curriculum:
    rows = sorted((r["train_step"], r[key]) for r in workers if r.get(key) is not None)
    series[key] = np.array(rows).reshape(-1, 2)
  drawn = sorted({
      k[:-len("/mean")] for r in workers for k in r
      if k.startswith("randomization/") and k.endswith("/mean")})
  for key in drawn:
    rows = sorted((r["train_step"], r[key + "/mean"], r[key + "/min"], r[key + "/max"])
                  for r in workers if r.get(key + "/mean") is not None)
    series[key] = np.array(rows).reshape(-1, 4)
  return series


# Keys every evaluation reports (and the worker's timing); any other `eval/<name>` is an
# environment's episode metric.
_EVAL_SUMMARY_KEYS = frozenset([f"eval/{name}"
                                for name in episodes.SUMMARY_NAMES] + ["eval/seconds"])
# An episode metric is drawn twice: against env steps and against wall time.
_AGAINST_MINUTES = " (wall time)"


def _extra_keys(runs) -> List[str]:
  """Episode metrics of the evaluations (against env steps, then wall time), curriculum
  values in force, then per-episode randomized values: one panel each."""
  keys = {k for _, series in runs for k in series}
  metrics_keys = sorted(k for k in keys if k.startswith("eval/"))
  return (metrics_keys + [k + _AGAINST_MINUTES for k in metrics_keys]
          + sorted(k for k in keys if k.startswith("curriculum/"))
          + sorted(k for k in keys if k.startswith("randomization/")))


def plot_training(exp_dirs: Sequence[str], path: str) -> str:
  """Draws the training curves of one or more runs (overlaid) into the PNG `path`."""
  plt = pyplot()
  runs = [(os.path.basename(os.path.normpath(d)), load_run(d)) for d in exp_dirs]
  extra_keys = _extra_keys(runs)
  rows = 2 + -(-len(extra_keys) // 3)
  figure, axes = plt.subplots(rows, 3, figsize=(15, 4 * rows), squeeze=False)
  panels: List[Tuple] = [
      (axes[0][0], "env steps (all workers)", "greedy eval return"),
      (axes[0][1], "wall time (minutes)", "greedy eval return"),
      (axes[0][2], "env steps (all workers)", "collection episode return (last 10)"),
      (axes[1][0], "train_step", "critic loss"), (axes[1][1], "train_step", "actor loss"),
      (axes[1][2], "train_step", "alpha")]
  extra_axes = [axes[2 + i // 3][i % 3] for i in range(len(extra_keys))]
  for index, (name, series) in enumerate(runs):
    color = f"C{index}"
    axes[0][0].plot(series["eval_env_steps"], series["eval_mean"], color=color, label=name)
    axes[0][0].fill_between(series["eval_env_steps"], series["eval_min"], series["eval_max"],
                            color=color, alpha=0.2)
    axes[0][1].plot(series["eval_minutes"], series["eval_mean"], color=color, label=name)
    axes[0][1].fill_between(series["eval_minutes"], series["eval_min"], series["eval_max"],
                            color=color, alpha=0.2)
    axes[0][2].plot(series["collect_env_steps"], series["collect_return"], color=color, alpha=0.8,
                    label=name)
    for axis, key in ((axes[1][0], "learner/critic_loss"), (axes[1][1], "learner/actor_loss"),
                      (axes[1][2], "learner/alpha")):
      axis.plot(series[key][:, 0], series[key][:, 1], color=color, label=name)
    for axis, key in zip(extra_axes, extra_keys):
      if key.startswith("eval/"):
        metric = key.removesuffix(_AGAINST_MINUTES)
        if metric in series:
          x_column = 1 if key.endswith(_AGAINST_MINUTES) else 0
          axis.plot(series[metric][:, x_column], series[metric][:, 2], color=color, marker=".",
                    label=name)
        continue
      if key not in series:
        continue
      if key.startswith("curriculum/"):
        axis.step(series[key][:, 0], series[key][:, 1], where="post", color=color, label=name)
      else:  # mean of the episodes drawn between two reports, shaded min-max
        axis.plot(series[key][:, 0], series[key][:, 1], color=color, label=name)
        axis.fill_between(series[key][:, 0], series[key][:, 2], series[key][:, 3], color=color,
                          alpha=0.2)
  for axis, key in zip(extra_axes, extra_keys):
    if key.startswith("eval/"):
      name = key.removesuffix(_AGAINST_MINUTES)
      panels.append(
          (axis,
           "wall time (minutes)" if key.endswith(_AGAINST_MINUTES) else "env steps (all workers)",
           f"greedy {name[len('eval/'):]} (mean)"))
    else:
      panels.append((axis, "train_step",
                     key if key.startswith("curriculum/") else f"{key} (drawn per episode)"))
  for index in range(len(extra_keys), 3 * (rows - 2)):
    axes[2 + index // 3][index % 3].axis("off")
  axes[1][0].set_yscale("log")
  from matplotlib.ticker import FuncFormatter
  thousands = FuncFormatter(lambda value, _: f"{value / 1000:g}k"
                            if abs(value) >= 1000 else f"{value:g}")
  for axis, xlabel, ylabel in panels:
    axis.set(xlabel=xlabel, ylabel=ylabel)
    axis.grid(alpha=0.3)
    if xlabel != "wall time (minutes)":
      axis.xaxis.set_major_formatter(thousands)
  # the env's "solved" return (gymnasium's reward_threshold: 200 for Lunar Lander), if set
  for threshold in {reward_threshold(d) for d in exp_dirs} - {None}:
    for axis in (axes[0][0], axes[0][1]):
      axis.axhline(threshold, color="gray", linestyle="--", linewidth=0.8)
  axes[0][0].legend(loc="lower right")
  figure.suptitle("sac_system: " + ", ".join(name for name, _ in runs))
  figure.tight_layout()
  save_figure(figure, path)
  plt.close(figure)
  return path


def plot_grid(varying: Sequence[Tuple[str, Sequence[float], np.ndarray]], means: np.ndarray,
              title: str, path: str, value_label: str = "mean greedy return") -> None:
  """Mean return over a parameter grid: a heatmap for two varying parameters, a line for one.

  Args:
    varying: (name, the axis values, each cell's value of it) per varying parameter.
    means: Each cell's mean return (or what `value_label` says, e.g. an IQM over seeds).
  """
  plt = pyplot()
  if len(varying) == 1:
    (name, _values, column), = varying
    figure, axis = plt.subplots(figsize=(7, 4))
    order = np.argsort(column)
    axis.plot(column[order], means[order], marker="o")
    axis.set(xlabel=name, ylabel=value_label)
    axis.axhline(200, color="gray", linestyle="--", linewidth=0.8)
    axis.grid(alpha=0.3)
  else:
    (row_name, row_values, rows), (col_name, col_values, cols) = varying
    table = np.full((len(row_values), len(col_values)), np.nan)
    for row, col, mean in zip(rows, cols, means):
      table[list(row_values).index(row), list(col_values).index(col)] = mean
    figure, axis = plt.subplots(figsize=(1.3 * len(col_values) + 3, 0.8 * len(row_values) + 2.5))
    image = axis.imshow(table, cmap="RdYlGn", aspect="auto", origin="lower")
    for (i, j), mean in np.ndenumerate(table):
      axis.text(j, i, f"{mean:.0f}", ha="center", va="center", fontsize=9)
    axis.set_xticks(range(len(col_values)), [f"{v:g}" for v in col_values])
    axis.set_yticks(range(len(row_values)), [f"{v:g}" for v in row_values])
    axis.set(xlabel=col_name, ylabel=row_name)
    figure.colorbar(image, ax=axis, label=value_label)
  axis.set_title(title, fontsize=9)
  figure.tight_layout()
  save_figure(figure, path)
  plt.close(figure)
