"""metrics.jsonl: one JSON object per report from any program of a run (docs/design.md §7).

Every record has `time` (unix seconds), `source` (`learner`, `worker_<i>`, `launcher`),
`train_step`, `iteration`, `env_steps`, and metric values under grouped keys
(`learner/critic_loss`, `collect/average_return`, `eval/average_return`, `curriculum/<param>`,
`randomization/<param>/mean|min|max`,
`throughput/env_steps_per_second`, ...). Each record is appended with one `write` on a file
opened with O_APPEND, so records of concurrent programs never interleave.

Pure module: no TensorFlow. TensorBoard summaries are written by `MetricsReporter` when it is
given a summary writer.
"""

import json
import math
import os
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np

from sac_system import constants


def metrics_path(exp_dir: str) -> str:
  return os.path.join(exp_dir, constants.METRICS_FILE)


def append_record(exp_dir: str, record: Dict[str, Any]) -> None:
  """Appends one record as a single line to EXP/metrics.jsonl."""
  line = (json.dumps(record, sort_keys=False, allow_nan=False) + "\n").encode()
  fd = os.open(metrics_path(exp_dir), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
  try:
    os.write(fd, line)
  finally:
    os.close(fd)


def read_records(exp_dir: str, source: Optional[str] = None) -> List[Dict[str, Any]]:
  """All well-formed records of EXP/metrics.jsonl, optionally of one source only.

  A line cut short by a crash is skipped, not an error.
  """
  return list(iter_records(exp_dir, source))


def iter_records(exp_dir: str, source: Optional[str] = None) -> Iterator[Dict[str, Any]]:
  path = metrics_path(exp_dir)
  if not os.path.exists(path):
    return
  with open(path) as metrics_file:
    for line in metrics_file:
      try:
        record = json.loads(line)
      except json.JSONDecodeError:
        continue
      if isinstance(record, dict) and (source is None or record.get("source") == source):
        yield record


def run_clock(records: Sequence[Dict[str, Any]]) -> Callable[[float], float]:
  """The run's own clock: seconds since it was launched at a unix time, not counting the time
  between a stop and the resume that followed.

  The launcher records an `event: start` at each launch (its time is when the command began);
  the time from the last record before such a start to the start is downtime. Runs written
  before the launcher recorded starts count from their first record.
  """
  times = sorted(float(r["time"]) for r in records if "time" in r)
  if not times:
    return lambda t: 0.0
  starts = sorted(
      float(r["time"]) for r in records
      if r.get("source") == constants.LAUNCHER_SOURCE and r.get("event") == "start")
  origin = times[0]
  gaps = []
  for start in starts:
    before = [t for t in times if t < start]
    if before and start > before[-1]:
      gaps.append((start, start - before[-1]))
  return lambda t: t - origin - sum(gap for at, gap in gaps if at <= t)


class MetricsReporter:
  """Writes a program's reports to metrics.jsonl and, optionally, TensorBoard."""

  def __init__(self, exp_dir: str, source: str, summary_writer=None):
    """Builds the reporter.

    Args:
      exp_dir: The run's exp dir.
      source: This program's name (`learner`, `worker_0`, ...).
      summary_writer: A `tf.summary` writer, or None for metrics.jsonl only.
    """
    self.exp_dir = exp_dir
    self.source = source
    self._summary_writer = summary_writer

  def report(self, train_step: int, iteration: int, env_steps: int,
             values: Dict[str, float]) -> Dict[str, Any]:
    """Writes one report; non-finite values are written as null. Returns the record."""
    record = {
        "time": round(time.time(), 3),
        "source": self.source,
        "train_step": int(train_step),
        "iteration": int(iteration),
        "env_steps": int(env_steps)}
    for key, raw_value in values.items():
      value = float(raw_value)
      record[key] = value if math.isfinite(value) else None
    append_record(self.exp_dir, record)
    if self._summary_writer is not None:
      import tensorflow as tf
      with self._summary_writer.as_default(step=int(train_step)):
        for key, value in values.items():
          tf.summary.scalar(key, float(value))
        tf.summary.scalar("progress/env_steps", float(env_steps))
      self._summary_writer.flush()
    return record


def summarize_episode_states(states: Sequence[dict]) -> dict:
  """Summary of per-episode randomized parameters: for each numeric (or boolean) key,
  `randomization/<key>/mean`, `/min`, `/max` over the episodes, and `randomization/episodes`."""
  if not states:
    return {}
  values = {"randomization/episodes": float(len(states))}
  for key in sorted(states[0]):
    column = np.array([float(state[key]) for state in states])
    values[f"randomization/{key}/mean"] = float(column.mean())
    values[f"randomization/{key}/min"] = float(column.min())
    values[f"randomization/{key}/max"] = float(column.max())
  return values
