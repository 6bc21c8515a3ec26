"""CPU ids for the N+2 programs (pure)."""

import pytest

from sac_system.cpu_allocation import allocate_cpus
from sac_system.cpu_allocation import format_cpu_list
from sac_system.cpu_allocation import parse_cpu_list
from sac_system.cpu_allocation import read_allowed_cpus


@pytest.mark.parametrize("text, ids", [
    ("0", [0]),
    ("0-3", [0, 1, 2, 3]),
    ("0-3,8,10-11", [0, 1, 2, 3, 8, 10, 11]),
    ("5,1,3", [1, 3, 5]),
    ("0-1,1-2", [0, 1, 2]),
    (" 2-4\n", [2, 3, 4]),
    ("0-63", list(range(64))),])
def test_parse_cpu_list(text, ids):
  assert parse_cpu_list(text) == ids


@pytest.mark.parametrize("text", ["", "a", "3-1", "1-", "-2", "1,,2", "0-3;5"])
def test_parse_cpu_list_rejects_garbage(text):
  with pytest.raises(ValueError):
    parse_cpu_list(text)


@pytest.mark.parametrize("ids, text", [([0], "0"), ([0, 1, 2, 5], "0-2,5"),
                                       ([8, 10, 11, 0, 1, 2, 3], "0-3,8,10-11"), ([], "")])
def test_format_cpu_list_round_trips(ids, text):
  assert format_cpu_list(ids) == text
  if text:
    assert parse_cpu_list(text) == sorted(ids)


def test_read_allowed_cpus(tmp_path):
  status = tmp_path / "status"
  status.write_text("Name:\tbash\nCpus_allowed:\tff\nCpus_allowed_list:\t0-3,8\nMems_allowed:\t1\n")
  assert read_allowed_cpus(str(status)) == [0, 1, 2, 3, 8]
  assert read_allowed_cpus() == sorted(__import__("os").sched_getaffinity(0))


def test_enough_cpus_gives_disjoint_blocks_in_order():
  plan = allocate_cpus(list(range(16)), reverb_cpus=2, train_cpus=4, num_workers=3, worker_cpus=2)
  assert plan.assignments == (("replay_buffer", (0, 1)), ("learner", (2, 3, 4, 5)),
                              ("worker_0", (6, 7)), ("worker_1", (8, 9)), ("worker_2", (10, 11)))
  assert not plan.shared and plan.requested == 12
  assert not any("warning" in line for line in plan.describe())


def test_non_contiguous_allowed_ids_are_used_in_order():
  plan = allocate_cpus(parse_cpu_list("0-3,8,10-11"), 1, 2, 2, 2)
  assert plan.assignments == (("replay_buffer", (0,)), ("learner", (1, 2)), ("worker_0", (3, 8)),
                              ("worker_1", (10, 11)))


def test_fewer_cpus_share_round_robin_and_warn():
  plan = allocate_cpus([0, 1], 1, 1, 1, 1)
  assert plan.assignments == (("replay_buffer", (0,)), ("learner", (1,)), ("worker_0", (0,)))
  assert plan.shared
  assert sum("warning" in line for line in plan.describe()) == 1


def test_one_cpu_everything_shares_it():
  plan = allocate_cpus([5], 2, 3, 4, 2)
  assert all(cpus == (5,) for _, cpus in plan.assignments)
  assert len(plan.assignments) == 6 and plan.shared


def test_sixty_four_cpus_sixteen_workers():
  plan = allocate_cpus(range(64), 4, 12, 16, 3)
  used = [cpu for _, cpus in plan.assignments for cpu in cpus]
  assert len(used) == len(set(used)) == 64
  assert plan.cpus_of("learner") == tuple(range(4, 16))
  assert plan.cpus_of("worker_15") == (61, 62, 63)


@pytest.mark.parametrize("allowed", [[0, 1, 2], list(range(7)), [3, 9, 12, 40]])
def test_sharing_spreads_load_evenly(allowed):
  plan = allocate_cpus(allowed, 1, 2, 5, 2)
  load = dict.fromkeys(allowed, 0)
  for _, cpus in plan.assignments:
    assert len(cpus) == len(set(cpus))
    for cpu in cpus:
      load[cpu] += 1
  assert max(load.values()) - min(load.values()) <= 1


def test_program_asking_more_than_allowed_gets_all_allowed_ids():
  plan = allocate_cpus([0, 1], 1, 8, 1, 1)
  assert plan.cpus_of("learner") == (0, 1)


@pytest.mark.parametrize("args", [([], 1, 1, 1, 1), ([0], 0, 1, 1, 1), ([0], 1, 0, 1, 1),
                                  ([0], 1, 1, 0, 1), ([0], 1, 1, 1, -1)])
def test_rejects_impossible_counts(args):
  with pytest.raises(ValueError):
    allocate_cpus(*args)


def test_plan_json():
  plan = allocate_cpus([0, 1], 1, 1, 1, 1)
  assert plan.to_json() == {
      "requested": 3,
      "available": [0, 1],
      "shared": True,
      "programs": {
          "replay_buffer": [0],
          "learner": [1],
          "worker_0": [0]}}


def test_the_learner_splits_ops_over_half_its_cpus_and_runs_independent_ops_on_all():
  """Intra-op threads: half the learner's CPUs (at least 1); every other program all of its
  CPUs (its inter-op threads are always one per CPU: program.configure_tensorflow_threads)."""
  from sac_system import constants
  from sac_system.program import intra_op_threads_for
  assert [intra_op_threads_for(constants.LEARNER_PROGRAM, n)
          for n in (1, 2, 3, 4, 8)] == [1, 1, 1, 2, 4]
  for program in (constants.REPLAY_PROGRAM, constants.worker_program(0), ""):
    assert [intra_op_threads_for(program, n) for n in (1, 2, 4)] == [1, 2, 4]
