#!/usr/bin/env python3
"""Soak measurement: samples every program of the runs under a folder each minute (resident
memory, open file descriptors, threads) and reports what grows, per hour.

    .venv/bin/python scripts/soak.py sample logs/sweeps/hopper_replay_layout --hours 6 \\
        --output benchmarks/soak_<date>.jsonl
    .venv/bin/python scripts/soak.py report benchmarks/soak_<date>.jsonl

`sample` finds the programs by their command lines (`sac_replay_buffer.py`, `sac_train.py`,
`sac_collect.py` with an `--exp_dir` under the folder), reads /proc/<pid>/status (VmRSS,
Threads) and counts /proc/<pid>/fd, and appends one JSON line per program per sample; a
restarted program is a new series (its pid). It stops after --hours. `report` fits a line to
each series after its first --settle_minutes (start-up and the replay table filling are not a
leak) and writes a Markdown table of the growth per hour beside the JSON lines file, with the
replay table's size at the series' ends, so that a replay server's growth can be told from its
table filling.
"""

import argparse
import json
import os
import re
import sys
import time
from typing import Dict, List

PROGRAMS = {
    "sac_replay_buffer.py": "replay_buffer",
    "sac_train.py": "learner",
    "sac_collect.py": "worker"}


def programs_under(folder: str) -> List[Dict]:
  """The run programs whose --exp_dir lies under `folder`: pid, program, exp_dir."""
  found = []
  folder = os.path.abspath(folder)
  for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
      with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        argv = cmdline.read().decode(errors="replace").split("\0")
    except OSError:
      continue
    script = next((PROGRAMS[os.path.basename(a)] for a in argv if os.path.basename(a) in PROGRAMS),
                  None)
    if script is None or "--exp_dir" not in argv:
      continue
    exp_dir = os.path.abspath(argv[argv.index("--exp_dir") + 1])
    if os.path.commonpath([exp_dir, folder]) != folder:
      continue
    if script == "worker" and "--worker_id" in argv:
      script = f"worker_{argv[argv.index('--worker_id') + 1]}"
    found.append({"pid": int(pid), "program": script, "exp_dir": exp_dir})
  return found


def sample(entry: Dict) -> Dict:
  pid = entry["pid"]
  with open(f"/proc/{pid}/status") as status:
    fields = dict(line.split(":", 1) for line in status if ":" in line)
  return {
      **entry, "time": round(time.time(), 1),
      "rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
      "threads": int(fields["Threads"]),
      "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def replay_size(exp_dir: str) -> float:
  """The replay table's size in the learner's latest report (0 before it)."""
  size = 0.0
  try:
    with open(os.path.join(exp_dir, "metrics.jsonl")) as records:
      for line in records:
        if '"replay/size"' in line:
          size = json.loads(line).get("replay/size", size)
  except (OSError, ValueError):
    pass
  return size


def run_sampler(args) -> int:
  deadline = time.time() + args.hours * 3600
  while time.time() < deadline:
    lines = []
    for entry in programs_under(args.folder):
      try:
        record = sample(entry)
      except (OSError, KeyError, ValueError):
        continue  # it exited between the listing and the reading
      if record["program"] == "replay_buffer":
        record["replay_size"] = replay_size(record["exp_dir"])
      lines.append(json.dumps(record))
    if lines:
      with open(args.output, "a") as output:
        output.write("\n".join(lines) + "\n")
    time.sleep(max(0.0, min(args.interval, deadline - time.time())))
  return 0


def slope_per_hour(times, values) -> float:
  import numpy as np
  hours = (np.asarray(times) - times[0]) / 3600.0
  return float(np.polyfit(hours, np.asarray(values, float), 1)[0])


def report(args) -> int:
  series: Dict[tuple, List[Dict]] = {}
  with open(args.samples) as samples:
    for line in samples:
      if line.strip():
        record = json.loads(line)
        series.setdefault((record["exp_dir"], record["program"], record["pid"]), []).append(record)
  rows = [
      "| run | program | minutes fitted | RSS start -> end (MB) | RSS MB/h | fds | fds/h "
      "| threads/h | replay table |", "|---|---|---|---|---|---|---|---|---|"]
  for (exp_dir, program, _pid), records in sorted(series.items()):
    start = records[0]["time"] + 60 * args.settle_minutes
    fitted = [r for r in records if r["time"] >= start]
    if len(fitted) < 5:
      continue
    times = [r["time"] for r in fitted]
    run = "/".join(exp_dir.rstrip("/").split("/")[-2:])
    table = (f"{fitted[0].get('replay_size', 0):,.0f} -> {fitted[-1].get('replay_size', 0):,.0f}"
             if program == "replay_buffer" else "")
    rows.append(
        f"| {run} | {program} | {(times[-1] - times[0]) / 60:.0f} | {fitted[0]['rss_mb']:.0f} -> "
        f"{fitted[-1]['rss_mb']:.0f} | {slope_per_hour(times, [r['rss_mb'] for r in fitted]):+.1f} "
        f"| {fitted[0]['fds']} -> {fitted[-1]['fds']} | "
        f"{slope_per_hour(times, [r['fds'] for r in fitted]):+.1f} | "
        f"{slope_per_hour(times, [r['threads'] for r in fitted]):+.1f} | {table} |")
  text = "\n".join(rows) + "\n"
  path = re.sub(r"\.jsonl$", "", args.samples) + ".md"
  with open(path, "w") as output:
    output.write(f"Samples: {os.path.basename(args.samples)}; fitted after the first "
                 f"{args.settle_minutes} min of each series.\n\n" + text)
  print(text + f"wrote {path}")
  return 0


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  commands = parser.add_subparsers(dest="command", required=True)
  sampler = commands.add_parser("sample", help="sample the programs of the runs under FOLDER")
  sampler.add_argument("folder")
  sampler.add_argument("--hours", type=float, default=6.0)
  sampler.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
  sampler.add_argument("--output", required=True, help="JSON lines file (appended to)")
  summary = commands.add_parser("report", help="growth per hour of each sampled program")
  summary.add_argument("samples")
  summary.add_argument("--settle_minutes", type=float, default=10.0)
  args = parser.parse_args()
  return run_sampler(args) if args.command == "sample" else report(args)


if __name__ == "__main__":
  sys.exit(main())
