"""Our MuJoCo runs beside SAC's published results: `scripts/benchmark.py --mujoco` (the mode that
trains and reports) and the tests import this module.

From each run's metrics.jsonl it takes the greedy eval curve (against env steps and wall time),
the return at given env steps (the mean of the eval curve, linearly interpolated, at that step
and 10k env steps before it: two evals' worth at the shipped eval interval, whatever the exact
steps each side evaluated at), the wall time and env steps at which the eval first reaches
given returns, and the training's env steps/s and gradient steps/s once the warm-up is over.
The same-machine reference (SBX's SAC, `scripts/peer_sbx_mujoco.py`) is read from its JSON
lines and summarized the same way; over seeds, both sides get the median, the interquartile
mean with a 95 % bootstrap CI and the probability that a run of ours beats a reference run
(`sac_system/aggregate.py`). `PUBLISHED` holds published numbers with their sources;
`markdown` and `plot` put everything side by side.
"""

import json
import os
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from sac_system import constants
from sac_system import metrics
from sac_system import plotting

# Env steps at which returns are compared, and the returns whose first crossing is timed.
COMPARE_AT = (50_000, 100_000, 200_000, 300_000, 1_000_000)
WINDOW = 20_000
# Where in the window the curve is read: at the step and half the window before it.
WINDOW_POINTS = (0.5, 1.0)
THRESHOLDS = {
    "halfcheetah": (2000, 4000, 6000, 8000),
    "hopper": (1000, 2000, 3000),
    "walker2d": (1000, 2000, 3000, 4000),
    "ant": (1000, 2000, 3000, 4000)}

# Published SAC returns: task -> list of {source, url, what, version, points {env steps:
# return}, note}. "table" numbers are printed in the source. "figure" numbers were read off the
# source's plotted mean curve (calibrated against its axes; where a figure's end can be checked
# against the same source's table it agrees within 1-2 %; treat 100k values as +-10 %, the
# curves are steep there). None used gymnasium's -v5 tasks; for HalfCheetah and Hopper -v5 keeps
# the rewards, frame skips and models of -v2/-v3, except that Hopper-v5 no longer pays the
# healthy reward on the step that ends an unhealthy episode (docs/results.md, "MuJoCo").
PUBLISHED: Dict[str, List[Dict[str, Any]]] = {
    "halfcheetah": [{
        "source": "PFRL SAC reproduction",
        "url": "https://github.com/pfnet/pfrl/tree/master/examples/mujoco/reproduction/"
               "soft_actor_critic",
        "what": "figure",
        "version": "HalfCheetah-v2",
        "points": {
            100_000: 5600,
            300_000: 8600,
            1_000_000: 11300},
        "note": "10 seeds, greedy eval; settings as ours; its table: 15,120 at 3M"}, {
            "source": "tf-agents examples/sac",
            "url": "https://github.com/tensorflow/agents/blob/master/tf_agents/examples/sac/"
                   "README.md",
            "what": "figure",
            "version": "HalfCheetah-v2",
            "points": {
                100_000: 5900,
                200_000: 8600,
                300_000: 9900,
                1_000_000: 12100},
            "note": "5 seeds, greedy eval (30 episodes); reward scale 0.1, target entropy "
                    "-dim(A)/2; its table: 12,096 at 1M"
        }, {
            "source": "Spinning Up benchmark (PyTorch SAC)",
            "url": "https://spinningup.openai.com/en/latest/spinningup/bench.html",
            "what": "figure",
            "version": "HalfCheetah-v3",
            "points": {
                100_000: 6081,
                300_000: 9163,
                1_000_000: 11500},
            "note": "10 seeds, greedy eval, smoothed; fixed alpha 0.2, lr 1e-3, batch 100"}, {
                "source": "CleanRL sac_continuous_action",
                "url": "https://docs.cleanrl.dev/rl-algorithms/sac/",
                "what": "figure",
                "version": "HalfCheetah-v2",
                "points": {
                    100_000: 5400,
                    200_000: 6800,
                    300_000: 7900,
                    1_000_000: 10300},
                "note": "3 seeds, stochastic training returns; critic/alpha lr 1e-3, 5k warm-up"}, {
                    "source": "RL Baselines3 Zoo benchmark.md",
                    "url": "https://github.com/DLR-RM/rl-baselines3-zoo/blob/master/benchmark.md",
                    "what": "table",
                    "version": "HalfCheetah-v3",
                    "points": {
                        1_000_000: 9535},
                    "note": "1 seed, greedy eval; settings as ours"}],
    "hopper": [{
        "source": "PFRL SAC reproduction",
        "url": "https://github.com/pfnet/pfrl/tree/master/examples/mujoco/reproduction/"
               "soft_actor_critic",
        "what": "figure",
        "version": "Hopper-v2",
        "points": {
            100_000: 1300,
            300_000: 2450,
            1_000_000: 3270},
        "note": "10 seeds, greedy eval; settings as ours; its table: 3,279 at 1M"}, {
            "source": "tf-agents examples/sac",
            "url": "https://github.com/tensorflow/agents/blob/master/tf_agents/examples/sac/"
                   "README.md",
            "what": "figure",
            "version": "Hopper-v2",
            "points": {
                100_000: 1700,
                200_000: 2450,
                300_000: 2950,
                1_000_000: 3330},
            "note": "5 seeds, greedy eval (30 episodes); reward scale 0.1, target entropy "
                    "-dim(A)/2, 1k warm-up; its table: 3,323 at 1M"
        }, {
            "source": "Spinning Up benchmark (PyTorch SAC)",
            "url": "https://spinningup.openai.com/en/latest/spinningup/bench.html",
            "what": "figure",
            "version": "Hopper-v3",
            "points": {
                100_000: 1164,
                300_000: 2887,
                1_000_000: 3535},
            "note": "10 seeds, greedy eval, smoothed; fixed alpha 0.2, lr 1e-3, batch 100"}, {
                "source": "CleanRL sac_continuous_action",
                "url": "https://docs.cleanrl.dev/rl-algorithms/sac/",
                "what": "figure",
                "version": "Hopper-v2",
                "points": {
                    100_000: 1400,
                    200_000: 1950,
                    300_000: 2350,
                    1_000_000: 2690},
                "note": "3 seeds, stochastic training returns; critic/alpha lr 1e-3, 5k warm-up"}, {
                    "source": "RL Baselines3 Zoo benchmark.md",
                    "url": "https://github.com/DLR-RM/rl-baselines3-zoo/blob/master/benchmark.md",
                    "what": "table",
                    "version": "Hopper-v3",
                    "points": {
                        1_000_000: 2326},
                    "note": "1 seed, greedy eval (+-1,130 over episodes); settings as ours"}]}


def eval_curve(exp_dir: str) -> Dict[str, np.ndarray]:
  """Greedy eval return against total env steps and wall minutes (from the run's start)."""
  series = plotting.load_run(exp_dir)
  return {
      "env_steps": series["eval_env_steps"],
      "minutes": series["eval_minutes"],
      "return": series["eval_mean"]}


def return_at(curve: Dict[str, np.ndarray], env_steps: int,
              window: int = WINDOW) -> Optional[float]:
  """The eval curve's mean, linearly interpolated, at `env_steps` and at half the window
  before it (100k and 90k): both sides of a comparison read at the same env steps, wherever
  their evals fell. None if the run's evals do not reach that far or start later."""
  steps, returns = curve["env_steps"], curve["return"]
  points = [env_steps - window * (1.0 - fraction) for fraction in WINDOW_POINTS]
  if not len(steps) or steps.max() < env_steps or steps.min() > points[0]:
    return None
  return float(np.mean(np.interp(points, steps, returns)))


def first_reaching(curve: Dict[str, np.ndarray], threshold: float) -> Optional[Dict[str, float]]:
  """Env steps and wall minutes of the first eval with mean return >= threshold."""
  hits = np.flatnonzero(curve["return"] >= threshold)
  if not len(hits):
    return None
  return {
      "env_steps": float(curve["env_steps"][hits[0]]),
      "minutes": float(curve["minutes"][hits[0]])}


def training_rates(exp_dir: str) -> Dict[str, float]:
  """Env steps/s and gradient steps/s of the run once the learner trains (after the warm-up),
  from the learner's reports; the warm-up's length in seconds; the whole run's wall time."""
  records = metrics.read_records(exp_dir)
  start = min(r["time"] for r in records)
  learner = [r for r in records if r.get("source") == constants.LEARNER_PROGRAM]
  training = [r for r in learner if r.get("train_step", 0) > 0]
  if len(training) < 2:
    raise ValueError(f"{exp_dir}: the learner has not trained long enough to measure")
  first, last = training[0], training[-1]
  seconds = last["time"] - first["time"]
  return {
      "env_steps_per_second": (last["env_steps"] - first["env_steps"]) / seconds,
      "grad_steps_per_second": (last["train_step"] - first["train_step"]) / seconds,
      "warmup_seconds": first["time"] - start,
      "wall_minutes": (last["time"] - start) / 60.0,
      "env_steps": float(last["env_steps"]),
      "train_steps": float(last["train_step"])}


def summarize_curve(curve: Dict[str, np.ndarray], task: str) -> Dict[str, Any]:
  """Returns at COMPARE_AT, the final and best return, the first reaching of each threshold,
  and the curve itself."""
  return {
      "returns_at": {
          str(n): return_at(curve, n) for n in COMPARE_AT},
      "final_return": float(curve["return"][-1]),
      "best_return": float(curve["return"].max()),
      "first_reaching": {
          str(t): first_reaching(curve, t) for t in THRESHOLDS.get(task, ())},
      "curve": {
          key: values.tolist() for key, values in curve.items()}}


def summarize_run(exp_dir: str, task: str) -> Dict[str, Any]:
  return {
      "exp_dir": exp_dir,
      **summarize_curve(eval_curve(exp_dir), task), "rates": training_rates(exp_dir)}


def peer_records(path: str) -> List[Dict[str, Any]]:
  """The evaluation records of a reference run (`scripts/peer_sbx_mujoco.py`'s JSON lines),
  without its final line."""
  with open(path) as peer_file:
    records = [json.loads(line) for line in peer_file if line.strip()]
  return [record for record in records if not record.get("final")]


def peer_curve(path: str) -> Dict[str, np.ndarray]:
  """A reference run's greedy eval return against env steps and wall minutes (from its
  script's first statement, imports included, as ours counts from the launcher's start)."""
  records = peer_records(path)
  if not records:
    raise ValueError(f"{path}: the reference run has no evaluation yet")
  return {
      "env_steps": np.array([r["env_steps"] for r in records], dtype=float),
      "minutes": np.array([r["wall_seconds"] / 60.0 for r in records]),
      "return": np.array([r["average_return"] for r in records])}


def summarize_peer(path: str, task: str) -> Dict[str, Any]:
  """A reference run summarized like ours; its rates between its first and last evaluation
  (one gradient step per env step there), eval time left out."""
  records = peer_records(path)
  curve = peer_curve(path)
  first, last = records[0], records[-1]
  seconds = (last["wall_seconds"] - first["wall_seconds"] - sum(r["eval_seconds"]
                                                                for r in records[1:]))
  rate = (last["grad_steps"] - first["grad_steps"]) / seconds if seconds > 0 else None
  return {
      "path": path,
      **summarize_curve(curve, task), "rates": {
          "grad_steps_per_second": rate,
          "wall_minutes": float(curve["minutes"][-1]),
          "env_steps": float(curve["env_steps"][-1])}}


def seed_statistics(ours: Sequence[Dict[str, Any]], reference: Sequence[Dict[str, Any]],
                    reps: int = 10_000) -> Dict[str, Dict[str, Any]]:
  """Per COMPARE_AT step both sides reach: each side's median and IQM with its 95 % CI over
  seeds, and P(a run of ours > a reference run) with its CI."""
  from sac_system import aggregate
  statistics = {}
  for n in COMPARE_AT:
    ours_values, peer_values = _returns_at(ours, n), _returns_at(reference, n)
    if not ours_values or not peer_values:
      continue
    entry: Dict[str, Any] = {"ours_seeds": len(ours_values), "reference_seeds": len(peer_values)}
    for side, values in (("ours", ours_values), ("reference", peer_values)):
      entry[f"{side}_median"] = float(np.median(values))
      entry[f"{side}_iqm"] = aggregate.interval(values, "iqm", reps)
    entry["p_ours_better"] = aggregate.probability_of_improvement(ours_values, peer_values, reps)
    statistics[str(n)] = entry
  return statistics


def variant_of(run: Dict[str, Any]) -> str:
  """A run's variant: the name of the folder holding its exp dir (a sweep's variant dir)."""
  return os.path.basename(os.path.dirname(os.path.normpath(run["exp_dir"])))


def variant_statistics(ours: Sequence[Dict[str, Any]], reference: Sequence[Dict[str, Any]],
                       reps: int = 10_000) -> Dict[str, Dict[str, Any]]:
  """Our runs grouped by variant (`variant_of`), in the order they come: per COMPARE_AT step
  that a variant's runs reach, its median and IQM with a 95 % CI over seeds, P(a run of it >
  a reference run), and P(a run of it > a run of each other variant)."""
  from sac_system import aggregate
  groups: Dict[str, List[Dict[str, Any]]] = {}
  for run in ours:
    groups.setdefault(variant_of(run), []).append(run)
  statistics: Dict[str, Dict[str, Any]] = {}
  for name, runs in groups.items():
    entry: Dict[str, Any] = {"seeds": sorted(run["seed"] for run in runs), "at": {}}
    for n in COMPARE_AT:
      values = _returns_at(runs, n)
      if not values:
        continue
      at: Dict[str, Any] = {
          "seeds": len(values),
          "median": float(np.median(values)),
          "iqm": aggregate.interval(values, "iqm", reps)}
      peer_values = _returns_at(reference, n)
      if peer_values:
        at["p_better_than_reference"] = aggregate.probability_of_improvement(
            values, peer_values, reps)
      at["p_better_than"] = {
          other: aggregate.probability_of_improvement(values, _returns_at(other_runs, n), reps)
          for other, other_runs in groups.items() if other != name and _returns_at(other_runs, n)}
      entry["at"][str(n)] = at
    statistics[name] = entry
  return statistics


def bound(rates: Dict[str, float], learner_alone: Optional[float],
          worker_alone: Optional[float]) -> str:
  """Which side bounds the run: the learner or collection, from each side's rate measured alone
  (gradient steps/s and env steps/s; one gradient step per env step in these runs)."""
  if not learner_alone or not worker_alone:
    return "not measured"
  side = "the learner" if learner_alone <= worker_alone else "collection"
  return (f"{side} (alone: learner {learner_alone:.0f} grad steps/s, worker "
          f"{worker_alone:.0f} env steps/s; in training {rates['grad_steps_per_second']:.0f} "
          f"grad steps/s)")


def _fmt(value: Optional[float]) -> str:
  return "-" if value is None else f"{value:.0f}"


def _short(path: str) -> str:
  """A run's folder and name, e.g. items32/seed0."""
  return "/".join(os.path.normpath(path).split(os.sep)[-2:])


def _ci(estimate) -> str:
  point, low, high = estimate
  return f"{point:.0f} [{low:.0f}, {high:.0f}]"


def _p(estimate) -> str:
  """A probability and its CI, two decimals."""
  point, low, high = estimate
  return f"{point:.2f} [{low:.2f}, {high:.2f}]"


def _returns_at(runs: Sequence[Dict[str, Any]], n: int) -> List[float]:
  """The runs' returns at `n` env steps, leaving out runs that did not get that far."""
  return [r["returns_at"][str(n)] for r in runs if r["returns_at"][str(n)] is not None]


def _seed_rows(side: str, label: str, runs: Sequence[Dict[str, Any]], steps: Sequence[int],
               where: str) -> List[str]:
  """A row per seed (`label`, its returns at `steps`, the run's folder/name from its `where`
  key), and the `side`'s median over seeds when there are several."""
  rows = [
      f"| {label}, seed {run['seed']} | "
      + " | ".join(_fmt(run["returns_at"][str(n)]) for n in steps) + f" | {_short(run[where])} |"
      for run in runs]
  if len(runs) > 1:
    medians = [
        float(np.median(values)) if values else None
        for values in (_returns_at(runs, n) for n in steps)]
    rows.append(f"| {side}, median of {len(runs)} seeds | " + " | ".join(_fmt(m)
                                                                         for m in medians) + " | |")
  return rows


def _threshold_cells(run: Dict[str, Any], thresholds: Sequence[float]) -> str:
  cells = []
  for t in thresholds:
    hit = run["first_reaching"][str(t)]
    cells.append("not reached" if hit is
                 None else f"{hit['minutes']:.1f} min, {hit['env_steps'] / 1000:.0f}k steps")
  return " | ".join(cells)


def markdown(report: Dict[str, Any]) -> str:
  """The comparison table, per task: ours (each seed, median), the same-machine reference
  (each seed, median) and their statistics over seeds, then each published source."""
  lines = [
      f"# SAC on MuJoCo: ours, the same-machine reference and published results "
      f"({report['date']})", "",
      f"Machine: {report['machine']['cpu_model']}, {report['machine']['allowed_cpus']} CPUs. "
      f"Command: `{report['command']}`", "",
      f"Return at N env steps: the greedy eval curve (5 episodes per eval), linearly "
      f"interpolated, averaged at N and N - {WINDOW // 2000}k.", ""]
  for task, result in report["tasks"].items():
    runs = result["runs"]
    reference = result.get("reference_runs", [])
    everything = list(runs) + list(reference)
    steps = [
        n for n in COMPARE_AT if any(run["returns_at"][str(n)] is not None for run in everything)]
    steps = steps or list(COMPARE_AT[:1])
    lines += [
        f"## {result['env_id']}", "", "| | " + " | ".join(f"{n // 1000}k env steps"
                                                          for n in steps) + " | notes |",
        "|---|" + "---|" * len(steps) + "---|"]
    lines += _seed_rows("ours", "ours", runs, steps, "exp_dir")
    lines += _seed_rows("reference", "reference (SBX SAC, same settings)", reference, steps, "path")
    for published in PUBLISHED.get(task, []):
      lines.append(f"| [{published['source']}]({published['url']}) ({published['version']}, "
                   f"{published['what']}) | "
                   + " | ".join(_fmt(published["points"].get(n))
                                for n in steps) + f" | {published['note']} |")
    statistics = result.get("statistics") or {}
    if statistics:
      lines += [
          "", "| env steps | ours: IQM [95 % CI] | reference: IQM [95 % CI] | "
          "P(ours > reference) [95 % CI] | seeds |", "|---|---|---|---|---|"]
      for n, entry in statistics.items():
        lines.append(f"| {int(n) // 1000}k | {_ci(entry['ours_iqm'])} | "
                     f"{_ci(entry['reference_iqm'])} | {_p(entry['p_ours_better'])} | "
                     f"{entry['ours_seeds']} vs {entry['reference_seeds']} |")
    lines += _variant_lines(result.get("variants") or {})
    lines += [
        "", "| run | env steps/s | grad steps/s | warm-up | wall time | what bounds it |",
        "|---|---|---|---|---|---|"]
    for run in runs:
      rates = run["rates"]
      lines.append(
          f"| ours, seed {run['seed']} | {rates['env_steps_per_second']:.0f} | "
          f"{rates['grad_steps_per_second']:.0f} | {rates['warmup_seconds']:.0f} s | "
          f"{rates['wall_minutes']:.1f} min for {rates['env_steps'] / 1000:.0f}k env steps | "
          f"{bound(rates, result.get('learner_alone'), result.get('worker_alone'))} |")
    for run in reference:
      rates = run["rates"]
      lines.append(f"| reference, seed {run['seed']} | {_fmt(rates['grad_steps_per_second'])} | "
                   f"{_fmt(rates['grad_steps_per_second'])} | - | {rates['wall_minutes']:.1f} min "
                   f"for {rates['env_steps'] / 1000:.0f}k env steps | one process |")
    thresholds = THRESHOLDS.get(result["task"], ())
    if thresholds:
      lines += [
          "", "| run | " + " | ".join(f"first eval >= {t}" for t in thresholds) + " |",
          "|---|" + "---|" * len(thresholds)]
      for run in runs:
        lines.append(f"| ours, seed {run['seed']} | {_threshold_cells(run, thresholds)} |")
      for run in reference:
        lines.append(f"| reference, seed {run['seed']} | {_threshold_cells(run, thresholds)} |")
    lines.append("")
  return "\n".join(lines) + "\n"


def _variant_lines(variants: Dict[str, Dict[str, Any]]) -> List[str]:
  """With several variants of ours: a row per variant and step (median, IQM, P(> reference),
  P(> each other variant))."""
  if len(variants) < 2:
    return []
  names = list(variants)
  lines = [
      "", "Our runs by variant (the folder holding each run):", "",
      "| variant | env steps | seeds | median | IQM [95 % CI] | P(> reference) | "
      + " | ".join(f"P(> {name})"
                   for name in names) + " |", "|---|---|---|---|---|---|" + "---|" * len(names)]
  for name, entry in variants.items():
    for n, at in entry["at"].items():
      versus = " | ".join("-" if other == name or other not in at["p_better_than"] else _p(
          at["p_better_than"][other]) for other in names)
      reference = _p(at["p_better_than_reference"]) if "p_better_than_reference" in at else "-"
      lines.append(f"| {name} | {int(n) // 1000}k | {at['seeds']} | {at['median']:.0f} | "
                   f"{_ci(at['iqm'])} | {reference} | {versus} |")
  return lines


def plot(report: Dict[str, Any], path: str) -> str:
  """Eval return against env steps (with the published points) and against wall time, one row
  per task."""
  plt = plotting.pyplot()
  tasks = list(report["tasks"].items())
  figure, axes = plt.subplots(len(tasks), 2, figsize=(13, 4.2 * len(tasks)), squeeze=False)
  markers = "osD^vP"
  for row, (task, result) in enumerate(tasks):
    left, right = axes[row]
    for index, run in enumerate(result["runs"]):
      curve = run["curve"]
      label = f"sac_system seed {run['seed']}"
      left.plot(curve["env_steps"], curve["return"], color=f"C{index}", label=label)
      right.plot(curve["minutes"], curve["return"], color=f"C{index}", label=label)
    for index, run in enumerate(result.get("reference_runs", [])):
      curve = run["curve"]
      label = "reference (SBX SAC)" if index == 0 else None
      left.plot(curve["env_steps"], curve["return"], color="gray", linestyle="--", label=label)
      right.plot(curve["minutes"], curve["return"], color="gray", linestyle="--", label=label)
    everything = list(result["runs"]) + list(result.get("reference_runs", []))
    for index, reference in enumerate(PUBLISHED.get(task, [])):
      points = sorted(reference["points"].items())
      limit = max(max(run["curve"]["env_steps"]) for run in everything) * 1.15
      shown = [(n, value) for n, value in points if n <= limit]
      if shown:
        left.plot(*zip(*shown), linestyle="none", marker=markers[index % len(markers)],
                  color="black", alpha=0.75,
                  label=f"{reference['source']} ({reference['version']})")
    left.set(title=f"{result['env_id']}: greedy eval return", xlabel="env steps", ylabel="return")
    right.set(
        title=f"{result['env_id']}: against wall time ({report['machine']['allowed_cpus']} "
        "CPUs)", xlabel="minutes", ylabel="return")
    for axis in (left, right):
      axis.grid(alpha=0.3)
    left.legend(fontsize=7, loc="upper left")
  figure.tight_layout()
  plotting.save_figure(figure, path)
  plt.close(figure)
  return path


def write(report: Dict[str, Any], stem: str) -> Sequence[str]:
  """Writes <stem>.json, .md and .png; returns their paths."""
  from sac_system import files
  files.write_json(stem + ".json", report)
  files.write_text(stem + ".md", markdown(report))
  return (stem + ".json", stem + ".md", plot(report, stem + ".png"))


def load_json(path: str) -> Dict[str, Any]:
  with open(path) as report_file:
    return json.load(report_file)
