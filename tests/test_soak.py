"""The soak measurement's sampler and report (scripts/soak.py): the programs of a real process
list found by their command lines, and growth per hour fitted after the settling minutes."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "scripts"))
import soak


def test_growth_per_hour_is_fitted_after_the_settling_minutes(tmp_path):
  samples = tmp_path / "soak.jsonl"
  with open(samples, "w") as output:
    for minute in range(120):
      # the first 10 minutes fill the replay table (fast growth); then 12 MB/h and one fd/h
      rss = 300 + (20 * minute if minute < 10 else 200 + 0.2 * (minute - 10))
      for program, value in (("learner", rss), ("replay_buffer", 500.0)):
        output.write(
            json.dumps({
                "pid": 7,
                "program": program,
                "exp_dir": "/x/items1/seed0",
                "time": 60.0 * minute,
                "rss_mb": value,
                "threads": 40,
                "fds": 20 + minute // 60,
                "replay_size": 1000.0 * minute}) + "\n")
  result = subprocess.run([sys.executable, "scripts/soak.py", "report",
                           str(samples)], cwd=REPO, capture_output=True, text=True, timeout=60)
  assert result.returncode == 0, result.stderr
  table = open(tmp_path / "soak.md").read()
  learner = next(line for line in table.splitlines() if "| learner |" in line)
  assert "| items1/seed0 | learner | 109 | 500 -> 522 | +12.0 | 20 -> 21 |" in learner
  replay = next(line for line in table.splitlines() if "| replay_buffer |" in line)
  assert "| +0.0 |" in replay and "10,000 -> 119,000" in replay


def test_the_sampler_finds_a_runs_programs_by_their_command_line(tmp_path):
  exp_dir = tmp_path / "runs" / "a"
  fake = subprocess.Popen([
      sys.executable, "-c", "import time; time.sleep(30)", "sac_train.py", "--exp_dir",
      str(exp_dir)])
  try:
    import time
    time.sleep(1.0)  # past the interpreter's start
    found = [p for p in soak.programs_under(str(tmp_path / "runs")) if p["pid"] == fake.pid]
    assert found == [{"pid": fake.pid, "program": "learner", "exp_dir": str(exp_dir)}]
    record = soak.sample(found[0])
    assert record["rss_mb"] > 1 and record["threads"] >= 1 and record["fds"] >= 3
    assert soak.programs_under(str(tmp_path / "elsewhere")) == []
  finally:
    fake.kill()
    fake.wait()


@pytest.mark.parametrize("times, values, slope", [([0, 3600], [1, 3], 2.0),
                                                  ([0, 1800, 3600], [5, 5, 5], 0.0)])
def test_slope_per_hour(times, values, slope):
  assert soak.slope_per_hour(times, values) == pytest.approx(slope)
