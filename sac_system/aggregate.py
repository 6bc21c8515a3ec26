"""A sweep's report: each variant over its seeds, with confidence intervals (docs/design.md §12).

    python -m sac_system.aggregate logs/sweeps/NAME [--threshold 200] [--reps 10000]

Reads the plan (SWEEP_DIR/sweep.json), every finished run's metrics.jsonl and, when the sweep
has a robustness grid, each run's grid CSV. Writes SWEEP_DIR/report/:
- report.md: the tables below; report.json: the same numbers and each seed's values;
- curves.png and curves_env_steps.csv / curves_wall_time.csv: greedy eval return against env
  steps and against wall time, the interquartile mean (IQM) over seeds with a 95 % stratified
  bootstrap band;
- final.csv: final return (the last greedy evaluation, the final policy's) per variant: IQM,
  mean and median, each with a 95 % CI, and every seed's value;
- time_to_threshold.csv / .png: per seed, the wall time and env steps to the first greedy eval
  at or above the threshold (the env's reward_threshold unless given), and their
  distribution per variant;
- probability of improvement P(X > Y) between every two variants (on the final return and,
  with a grid, on the grid's mean), with a 95 % CI;
- grid_<variant>.csv / .png: per grid cell, the IQM of the per-seed mean returns with its CI
  (and mean, min, max over seeds); the heatmap shows the IQM.

The statistics are rliable's (google-research/rliable; Agarwal et al., "Deep Reinforcement
Learning at the Edge of the Statistical Precipice", NeurIPS 2021): IQM = the mean of the middle
50 % of the values (25 % trimmed on each side), percentile bootstrap CIs over seeds (one task:
a stratified bootstrap is a bootstrap over runs), and the Mann-Whitney probability of
improvement. The bootstrap's random state is fixed, so a report is reproducible.
"""

import argparse
import contextlib
import csv
import io
import os
import sys
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from sac_system import errors
from sac_system import files
from sac_system import sweep_plan
from sac_system.errors import UserInputError

CONFIDENCE = 0.95
DEFAULT_REPS = 10000
CURVE_POINTS = 40
CURVE_REPS = 2000


# ----- statistics (pure) ------------------------------------------------------------------------
@contextlib.contextmanager
def _seeded_bootstrap(seed: int) -> Iterator[None]:
  """rliable 1.2's StratifiedBootstrap draws its resamples from NumPy's global generator (its
  random_state reaches only arch's unused generator), so a reproducible report seeds that
  generator around each call and puts its state back afterwards."""
  state = np.random.get_state()
  np.random.seed(seed)
  try:
    yield
  finally:
    np.random.set_state(state)


def iqm(values: Sequence[float]) -> float:
  """The interquartile mean: the mean of the middle 50 % (rliable's aggregate_iqm)."""
  from rliable import metrics
  return float(metrics.aggregate_iqm(np.asarray(values, dtype=float)))


STATISTICS: Dict[str, Callable[[Sequence[float]], float]] = {
    "iqm": iqm,
    "mean": lambda values: float(np.mean(values)),
    "median": lambda values: float(np.median(values))}


def estimates(values: Sequence[float], statistics: Sequence[str] = tuple(STATISTICS),
              reps: int = DEFAULT_REPS, seed: int = 0) -> Dict[str, Tuple[float, float, float]]:
  """Per statistic, (point estimate, CI low, CI high) over runs: a 95 % percentile bootstrap
  over the runs (rliable's stratified bootstrap with one task), one set of resamples for all."""
  from rliable import library
  scores = np.asarray(values, dtype=float).reshape(-1, 1)
  functions = [STATISTICS[name] for name in statistics]
  with _seeded_bootstrap(seed):
    points, intervals = library.get_interval_estimates({
        "x": scores}, lambda s: np.array([function(s) for function in functions]), reps=reps,
                                                       confidence_interval_size=CONFIDENCE)
  return {
      name: (float(points["x"][i]), float(intervals["x"][0][i]), float(intervals["x"][1][i]))
      for i, name in enumerate(statistics)}


def interval(values: Sequence[float], statistic: str = "iqm", reps: int = DEFAULT_REPS,
             seed: int = 0) -> Tuple[float, float, float]:
  """(point estimate, CI low, CI high) of one statistic over runs (see `estimates`)."""
  return estimates(values, (statistic,), reps, seed)[statistic]


def intervals_by_column(table: np.ndarray, reps: int = CURVE_REPS,
                        seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """IQM and its 95 % CI of each column of a (runs, points) table. rliable resamples the runs
  of each column on its own (each column is a stratum), so each point's CI is that point's."""
  import scipy.stats
  from rliable import library
  scores = np.asarray(table, dtype=float)[:, None, :]  # runs x 1 task x points
  with _seeded_bootstrap(seed):
    points, intervals = library.get_interval_estimates(
        {"x": scores},  # aggregate_iqm of each column, all columns at once
        lambda s: scipy.stats.trim_mean(s[:, 0, :], proportiontocut=0.25, axis=0),
        reps=reps,
        confidence_interval_size=CONFIDENCE)
  return points["x"], intervals["x"][0], intervals["x"][1]


def probability_of_improvement(x: Sequence[float], y: Sequence[float], reps: int = DEFAULT_REPS,
                               seed: int = 0) -> Tuple[float, float, float]:
  """P(X > Y) (ties count half) of a run of X against a run of Y, with a 95 % CI from
  bootstrapping each side's runs independently."""
  from rliable import library
  pair = [np.asarray(x, dtype=float).reshape(-1, 1), np.asarray(y, dtype=float).reshape(-1, 1)]
  with _seeded_bootstrap(seed):
    points, intervals = library.get_interval_estimates({
        "xy": pair}, lambda a, b: np.array([pairwise_improvement(a[:, 0], b[:, 0])]), reps=reps,
                                                       confidence_interval_size=CONFIDENCE)
  return float(points["xy"][0]), float(intervals["xy"][0][0]), float(intervals["xy"][1][0])


def pairwise_improvement(x: np.ndarray, y: np.ndarray) -> float:
  """P(X > Y) + P(X = Y) / 2 over all pairs: rliable's probability_of_improvement for one
  task (its Mann-Whitney U over the number of pairs), without scipy's per-call cost."""
  greater = x[:, None] > y[None, :]
  equal = x[:, None] == y[None, :]
  return float(np.mean(greater + 0.5 * equal))


def first_reaching(x: Sequence[float], y: Sequence[float], threshold: float) -> Optional[float]:
  """The first x whose y is at or above `threshold`, or None."""
  for x_value, y_value in zip(x, y):
    if y_value >= threshold:
      return float(x_value)
  return None


def common_grid(curves: Sequence[Tuple[np.ndarray, np.ndarray]],
                points: int = CURVE_POINTS) -> Tuple[np.ndarray, np.ndarray]:
  """Resamples (x, y) curves onto the x range they all cover (no extrapolation).

  Returns:
    (the x grid, a (curves, points) table); empty when they share no range.
  """
  low = max(float(np.min(x)) for x, _ in curves)
  high = min(float(np.max(x)) for x, _ in curves)
  if not high > low:
    return np.array([]), np.zeros((len(curves), 0))
  grid = np.linspace(low, high, points)
  return grid, np.array([np.interp(grid, x, y) for x, y in curves])


# ----- reading a sweep --------------------------------------------------------------------------
def load_sweep(sweep_dir: str) -> Tuple[Dict[str, Any], Dict[str, List[Dict[str, Any]]], List[str]]:
  """The plan, each variant's finished runs (seed, exp dir, eval curve) and the names of the
  runs left out (not finished, or without evaluations)."""
  from sac_system import plotting
  plan = sweep_plan.load_plan(sweep_dir)
  runs: Dict[str, List[Dict[str, Any]]] = {v["name"]: [] for v in plan["variants"]}
  left_out = []
  for run in plan["runs"]:
    if not sweep_plan.run_finished_training(run):
      left_out.append(f"{run['name']} (not finished)")
      continue
    try:
      series = plotting.load_run(run["exp_dir"])
    except (OSError, ValueError):
      left_out.append(f"{run['name']} (no metrics)")
      continue
    if not len(series["eval_mean"]):
      left_out.append(f"{run['name']} (no evaluation)")
      continue
    runs[run["variant"]].append({
        "seed": run["seed"],
        "name": run["name"],
        "exp_dir": run["exp_dir"],
        "env_steps": series["eval_env_steps"],
        "minutes": series["eval_minutes"],
        "returns": series["eval_mean"],
        "grid_csv": sweep_plan.grid_csv(plan, run)})
  return plan, runs, left_out


def read_grid_csv(path: str) -> Tuple[List[str], Dict[Tuple[float, ...], float]]:
  """(axis names, cell values -> mean_return) of a robustness grid CSV written by run.py."""
  with open(path) as grid_file:
    rows = list(csv.DictReader(grid_file))
  names = [name for name in (rows[0] if rows else {}) if not name.endswith(("_return", "_length"))]
  return names, {tuple(float(row[n]) for n in names): float(row["mean_return"]) for row in rows}


# ----- the report -------------------------------------------------------------------------------
def _fmt(value: Optional[float], digits: int = 1) -> str:
  return "—" if value is None or not np.isfinite(value) else f"{value:,.{digits}f}"


def _ci(estimate: Sequence[float], digits: int = 1) -> str:
  point, low, high = estimate
  return f"{_fmt(point, digits)} [{_fmt(low, digits)}, {_fmt(high, digits)}]"


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow(header)
  for row in rows:
    writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
  return buffer.getvalue()


def threshold_of(plan: Dict[str, Any], given: Optional[float]) -> Optional[float]:
  if given is not None:
    return given
  if plan.get("threshold") is not None:
    return float(plan["threshold"])
  known = [v["reward_threshold"] for v in plan["variants"] if v.get("reward_threshold") is not None]
  return float(known[0]) if known else None


def summarize(plan, runs, threshold: Optional[float], reps: int) -> Dict[str, Any]:
  """Every number of the report (no files written)."""
  report: Dict[str, Any] = {
      "sweep": plan["name"],
      "threshold": threshold,
      "reps": reps,
      "confidence": CONFIDENCE,
      "variants": {}}
  finals = {}
  for name, variant_runs in runs.items():
    entry: Dict[str, Any] = {"seeds": [r["seed"] for r in variant_runs]}
    report["variants"][name] = entry
    if not variant_runs:
      continue
    finals[name] = [float(r["returns"][-1]) for r in variant_runs]
    entry["final_returns"] = finals[name]
    entry["final"] = estimates(finals[name], reps=reps)
    if threshold is not None:
      reached = []
      for r in variant_runs:
        minutes = first_reaching(r["minutes"], r["returns"], threshold)
        steps = first_reaching(r["env_steps"], r["returns"], threshold)
        reached.append({"seed": r["seed"], "minutes": minutes, "env_steps": steps})
      entry["time_to_threshold"] = reached
      times = [r["minutes"] for r in reached if r["minutes"] is not None]
      entry["reached"] = len(times)
      # runs that never reached it count as +inf: the median is finite while more than half
      # reached it
      censored = np.array([t if t is not None else np.inf for t in (r["minutes"] for r in reached)])
      entry["median_minutes"] = float(np.median(censored))
      if len(times) == len(reached):
        entry["minutes_to_threshold"] = estimates(times, reps=reps)
        entry["env_steps_to_threshold"] = estimates([r["env_steps"] for r in reached], reps=reps)
      entry["worst_minutes"] = float(np.max(censored))
  report["probability_of_improvement"] = [{
      "x": x,
      "y": y,
      "on": "final return",
      "estimate": probability_of_improvement(finals[x], finals[y], reps)} for x in finals
                                          for y in finals if x != y]
  return report


def grid_summary(plan, runs, threshold: Optional[float], reps: int, report: Dict[str, Any],
                 out_dir: str, outputs: Dict[str, str]) -> None:
  """Aggregates the robustness grids over seeds: grid_<variant>.csv/.png and, in `report`,
  per variant the cells whose IQM reaches the threshold and the grid mean; P(X > Y) on the
  grid mean."""
  from sac_system import plotting
  means_by_variant = {}
  for name, variant_runs in runs.items():
    grids = [(r["seed"], read_grid_csv(r["grid_csv"])) for r in variant_runs
             if r["grid_csv"] and os.path.isfile(r["grid_csv"])]
    if not grids:
      continue
    axis_names = grids[0][1][0]
    cells = sorted(grids[0][1][1])
    table = np.array([[grid[1][1].get(cell, np.nan) for cell in cells] for grid in grids])
    if np.isnan(table).any():
      raise ValueError(f"the grids of variant {name} do not cover the same cells; rerun their "
                       "grids with the same SWEEP_GRID")
    point, low, high = intervals_by_column(table, min(reps, CURVE_REPS))
    rows = []
    for index, cell in enumerate(cells):
      column = table[:, index]
      rows.append(
          list(cell) + [
              point[index], low[index], high[index],
              float(np.mean(column)),
              float(np.min(column)),
              float(np.max(column)),
              len(column)])
    path = os.path.join(out_dir, f"grid_{name}.csv")
    files.write_text(
        path,
        _csv_text(
            axis_names
            + ["iqm_return", "ci_low", "ci_high", "mean_return", "min_seed", "max_seed", "seeds"],
            rows))
    outputs[f"grid_{name}_csv"] = path
    varying = [(axis, sorted({cell[i] for cell in cells}), np.array([cell[i] for cell in cells]))
               for i, axis in enumerate(axis_names) if len({cell[i] for cell in cells}) > 1]
    if 1 <= len(varying) <= 2:
      png = os.path.join(out_dir, f"grid_{name}.png")
      plotting.plot_grid(
          varying, point, f"{plan['name']} / {name}: IQM over {len(grids)} seeds "
          "of each cell's mean greedy return", png, value_label="IQM over seeds of the mean return")
      outputs[f"grid_{name}_png"] = png
    per_seed_mean = table.mean(axis=1)
    means_by_variant[name] = per_seed_mean
    entry = report["variants"][name]
    worst = int(np.argmin(point))
    entry["grid"] = {
        "seeds": [seed for seed, _ in grids],
        "cells": len(cells),
        "mean_over_cells": interval(per_seed_mean, "iqm", reps),
        "per_seed_mean_over_cells": per_seed_mean.tolist(),
        "worst_cell": dict(zip(axis_names, cells[worst]), iqm=float(point[worst]))}
    if threshold is not None:
      entry["grid"]["cells_iqm_at_threshold"] = int(np.sum(point >= threshold))
      per_seed_cells = (table >= threshold).sum(axis=1)
      entry["grid"]["cells_at_threshold_per_seed"] = per_seed_cells.tolist()
  report["probability_of_improvement"] += [{
      "x": x,
      "y": y,
      "on": "grid mean",
      "estimate": probability_of_improvement(means_by_variant[x], means_by_variant[y], reps)}
                                           for x in means_by_variant for y in means_by_variant
                                           if x != y]


def write_curves(plan, runs, threshold, out_dir: str, outputs: Dict[str, str]) -> None:
  from sac_system import plotting
  plt = plotting.pyplot()
  figure, axes = plt.subplots(1, 2, figsize=(13, 4.5))
  for axis, (key, label, file_name) in zip(axes,
                                           (("env_steps", "env steps", "curves_env_steps"),
                                            ("minutes", "wall time (min)", "curves_wall_time"))):
    rows = []
    for name, variant_runs in runs.items():
      if not variant_runs:
        continue
      grid, table = common_grid([(r[key], r["returns"]) for r in variant_runs])
      if not len(grid):
        continue
      point, low, high = intervals_by_column(table)
      rows += [[name, x, p, lo, hi, len(variant_runs)]
               for x, p, lo, hi in zip(grid, point, low, high)]
      line, = axis.plot(grid, point, label=f"{name} (IQM of {len(variant_runs)} seeds)")
      axis.fill_between(grid, low, high, alpha=0.25, color=line.get_color())
    if threshold is not None:
      axis.axhline(threshold, color="gray", linestyle="--", linewidth=0.8)
    axis.set(xlabel=label, ylabel="greedy eval return")
    axis.grid(alpha=0.3)
    if axis.get_legend_handles_labels()[0]:
      axis.legend(loc="lower right")
    path = os.path.join(out_dir, file_name + ".csv")
    files.write_text(path,
                     _csv_text(["variant", key, "iqm_return", "ci_low", "ci_high", "seeds"], rows))
    outputs[file_name] = path
  figure.suptitle(f"sweep {plan['name']}: IQM over seeds, 95 % bootstrap band")
  figure.tight_layout()
  outputs["curves_png"] = os.path.join(out_dir, "curves.png")
  plotting.save_figure(figure, outputs["curves_png"])
  plt.close(figure)


def write_time_to_threshold(report, threshold, out_dir: str, outputs: Dict[str, str]) -> None:
  from sac_system import plotting
  rows = [[name, r["seed"], r["minutes"], r["env_steps"]]
          for name, entry in report["variants"].items() for r in entry.get("time_to_threshold", [])]
  path = os.path.join(out_dir, "time_to_threshold.csv")
  files.write_text(
      path,
      _csv_text(["variant", "seed", "minutes", "env_steps"],
                [[v if v is not None else "" for v in row] for row in rows]))
  outputs["time_to_threshold_csv"] = path
  plt = plotting.pyplot()
  figure, axis = plt.subplots(figsize=(7, 4))
  for name, entry in report["variants"].items():
    reached = sorted(r["minutes"] for r in entry.get("time_to_threshold", [])
                     if r["minutes"] is not None)
    total = len(entry.get("time_to_threshold", []))
    if total:
      axis.step([0.0] + reached,
                np.arange(len(reached) + 1) / total, where="post",
                label=f"{name} ({len(reached)}/{total} seeds)")
  axis.set(xlabel="wall time from the command (min)", ylim=(0, 1.05), ylabel="fraction of seeds",
           title=f"first greedy eval >= {threshold:g}")
  axis.grid(alpha=0.3)
  axis.legend(loc="lower right")
  figure.tight_layout()
  outputs["time_to_threshold_png"] = os.path.join(out_dir, "time_to_threshold.png")
  plotting.save_figure(figure, outputs["time_to_threshold_png"])
  plt.close(figure)


def markdown(report: Dict[str, Any], left_out: Sequence[str]) -> str:
  threshold = report["threshold"]
  lines = [
      f"# Sweep {report['sweep']}", "",
      f"IQM = interquartile mean over seeds; [low, high] = {CONFIDENCE:.0%} percentile "
      f"bootstrap CI over seeds ({report['reps']} resamples; {CURVE_REPS} per curve point "
      "and grid cell; rliable).", "", "## Final greedy eval return (the final policy)", "",
      "| variant | seeds | IQM | mean | median | per seed |", "|---|---:|---|---|---|---|"]
  for name, entry in report["variants"].items():
    if "final" not in entry:
      lines.append(f"| {name} | 0 | — | — | — | |")
      continue
    lines.append(f"| {name} | {len(entry['seeds'])} | {_ci(entry['final']['iqm'])} | "
                 f"{_ci(entry['final']['mean'])} | {_ci(entry['final']['median'])} | "
                 + ", ".join(_fmt(v) for v in entry["final_returns"]) + " |")
  if threshold is not None:
    lines += [
        "", f"## Time to the first greedy eval >= {threshold:g}", "",
        "Wall time from the command (a resume's downtime left out) and env steps.", "",
        "| variant | reached | minutes: median | IQM | worst | env steps: IQM | per seed (min) |",
        "|---|---:|---:|---|---:|---|---|"]
    for name, entry in report["variants"].items():
      if "time_to_threshold" not in entry:
        continue
      minutes = entry.get("minutes_to_threshold")
      steps = entry.get("env_steps_to_threshold")
      lines.append(
          f"| {name} | {entry['reached']}/{len(entry['seeds'])} | "
          f"{_fmt(entry['median_minutes'], 2)} | {_ci(minutes['iqm'], 2) if minutes else '—'} | "
          f"{_fmt(entry['worst_minutes'], 2)} | {_ci(steps['iqm'], 0) if steps else '—'} | "
          + ", ".join(_fmt(r["minutes"], 2) for r in entry["time_to_threshold"]) + " |")
  grids = {name: entry["grid"] for name, entry in report["variants"].items() if "grid" in entry}
  if grids:
    lines += [
        "", "## Robustness grid", "",
        "Per seed, the mean return of each grid cell; per cell, the IQM over seeds.", "",
        f"| variant | seeds | cells with IQM >= {_fmt(threshold, 0)} | cells >= "
        f"{_fmt(threshold, 0)} per seed | mean over cells: IQM | worst cell (IQM) |",
        "|---|---:|---:|---|---|---|"]
    for name, grid in grids.items():
      worst = ", ".join(f"{k} {v:g}" for k, v in grid["worst_cell"].items() if k != "iqm")
      lines.append(f"| {name} | {len(grid['seeds'])} | "
                   f"{grid.get('cells_iqm_at_threshold', '—')} / {grid['cells']} | "
                   + ", ".join(str(c) for c in grid.get("cells_at_threshold_per_seed", []))
                   + f" | {_ci(grid['mean_over_cells'])} | "
                   f"{_fmt(grid['worst_cell']['iqm'])} ({worst}) |")
  if report["probability_of_improvement"]:
    lines += [
        "", "## Probability of improvement", "",
        "P(X > Y): the chance that a run of X beats a run of Y (0.5: no difference).", "",
        "| X | Y | on | P(X > Y) |", "|---|---|---|---|"]
    for entry in report["probability_of_improvement"]:
      lines.append(f"| {entry['x']} | {entry['y']} | {entry['on']} | "
                   f"{_ci(entry['estimate'], 2)} |")
  if left_out:
    lines += ["", "Left out: " + ", ".join(left_out) + "."]
  return "\n".join(lines) + "\n"


def write_report(sweep_dir: str, threshold: Optional[float] = None,
                 reps: int = DEFAULT_REPS) -> Dict[str, str]:
  """Writes SWEEP_DIR/report/ (see the module doc); returns the paths written.

  Raises:
    UserInputError: when SWEEP_DIR is not a sweep dir or no run has finished.
  """
  plan, runs, left_out = load_sweep(sweep_dir)
  if not any(runs.values()):
    raise UserInputError(
        sweep_dir, "", "no finished run to report on yet "
        f"({', '.join(left_out) or 'no runs'})")
  threshold = threshold_of(plan, threshold)
  out_dir = os.path.join(sweep_dir, "report")
  outputs: Dict[str, str] = {}
  report = summarize(plan, runs, threshold, reps)
  write_curves(plan, runs, threshold, out_dir, outputs)
  if threshold is not None:
    write_time_to_threshold(report, threshold, out_dir, outputs)
  final_rows = [[name] + [entry["final"][stat][i] for stat in STATISTICS for i in range(3)]
                + [len(entry["seeds"]), " ".join(f"{v:.2f}" for v in entry["final_returns"])]
                for name, entry in report["variants"].items() if "final" in entry]
  outputs["final_csv"] = os.path.join(out_dir, "final.csv")
  files.write_text(
      outputs["final_csv"],
      _csv_text(
          ["variant"]
          + [f"{stat}_{part}" for stat in STATISTICS
             for part in ("value", "ci_low", "ci_high")] + ["seeds", "per_seed"], final_rows))
  grid_summary(plan, runs, threshold, reps, report, out_dir, outputs)
  report["left_out"] = list(left_out)
  outputs["json"] = os.path.join(out_dir, "report.json")
  files.write_json(outputs["json"], report)
  outputs["markdown"] = os.path.join(out_dir, "report.md")
  files.write_text(outputs["markdown"], markdown(report, left_out))
  return outputs


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description="Writes a sweep's report with confidence "
                                   "intervals over seeds (SWEEP_DIR/report/).")
  parser.add_argument("sweep_dir", help="e.g. logs/sweeps/lunar_lander_dr")
  parser.add_argument(
      "--threshold", type=float, help="the return whose first reaching is timed "
      "(default: SWEEP_THRESHOLD, else the env's reward_threshold)")
  parser.add_argument("--reps", type=int, default=DEFAULT_REPS, help="bootstrap resamples")
  args = parser.parse_args(argv)
  try:
    paths = write_report(args.sweep_dir, args.threshold, args.reps)
  except UserInputError as error:
    return errors.report(error)
  with open(paths["markdown"]) as report_file:
    print(report_file.read())
  print(f"wrote {os.path.dirname(paths['markdown'])}/ ({len(paths)} files)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
