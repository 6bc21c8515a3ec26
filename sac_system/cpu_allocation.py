"""CPU allocation for the N+2 programs of a run (docs/design.md §2.3).

Reads the CPU ids this job may use (`Cpus_allowed_list` in /proc/self/status; under SLURM it
holds the job's CPUs) and hands them out in order: replay server, learner, worker 0..N-1.
When fewer CPUs are allowed than asked for, programs share CPUs round-robin and the plan says
so (it never fails). Pure module: no TensorFlow or Reverb import.
"""

import dataclasses
from typing import List, Optional, Sequence, Set, Tuple

from sac_system import constants


def parse_cpu_list(text: str) -> List[int]:
  """Parses a kernel CPU list such as `0-3,8,10-11` into sorted, unique ids.

  Raises:
    ValueError: if `text` is not a CPU list.
  """
  cpus: Set[int] = set()
  text = text.strip()
  if not text:
    raise ValueError("empty CPU list")
  for raw_part in text.split(","):
    part = raw_part.strip()
    if "-" in part:
      low, _, high = part.partition("-")
      if not (low.isdigit() and high.isdigit()) or int(low) > int(high):
        raise ValueError(f"bad CPU range {part!r} in {text!r}")
      cpus.update(range(int(low), int(high) + 1))
    elif part.isdigit():
      cpus.add(int(part))
    else:
      raise ValueError(f"bad CPU id {part!r} in {text!r}")
  return sorted(cpus)


def format_cpu_list(cpus: Sequence[int]) -> str:
  """Formats ids as a compact list for `taskset -c`, e.g. [0, 1, 2, 5] -> '0-2,5'."""
  ids = sorted(set(cpus))
  parts = []
  start: Optional[int] = None
  prev = 0  # read only once start is set
  for cpu in ids:
    if start is None:
      start = prev = cpu
    elif cpu == prev + 1:
      prev = cpu
    else:
      parts.append(f"{start}-{prev}" if prev > start else str(start))
      start = prev = cpu
  if start is not None:
    parts.append(f"{start}-{prev}" if prev > start else str(start))
  return ",".join(parts)


def read_allowed_cpus(status_path: str = "/proc/self/status") -> List[int]:
  """The CPU ids this process may run on, from `Cpus_allowed_list` in `status_path`."""
  with open(status_path) as status:
    for line in status:
      if line.startswith("Cpus_allowed_list:"):
        return parse_cpu_list(line.split(":", 1)[1])
  raise ValueError(f"{status_path} has no Cpus_allowed_list line")


@dataclasses.dataclass(frozen=True)
class CpuPlan:
  """Which CPU ids each program gets.

  Attributes:
    assignments: (program name, CPU ids) in start order: replay server, learner, workers.
    requested: CPUs asked for in total.
    available: CPU ids allowed.
  """
  assignments: Tuple[Tuple[str, Tuple[int, ...]], ...]
  requested: int
  available: Tuple[int, ...]

  @property
  def shared(self) -> bool:
    """True when programs share CPUs because fewer were allowed than requested."""
    return self.requested > len(self.available)

  def cpus_of(self, program: str) -> Tuple[int, ...]:
    return dict(self.assignments)[program]

  def describe(self) -> List[str]:
    """Human-readable lines: one per program, plus a warning line when CPUs are shared."""
    lines = [f"{program:<14} cpus {format_cpu_list(cpus)}" for program, cpus in self.assignments]
    if self.shared:
      lines.append(f"warning: {self.requested} CPUs requested but only {len(self.available)} "
                   f"allowed ({format_cpu_list(self.available)}); programs share CPUs")
    return lines

  def to_json(self) -> dict:
    return {
        "requested": self.requested,
        "available": list(self.available),
        "shared": self.shared,
        "programs": {
            program: list(cpus) for program, cpus in self.assignments}}


def allocate_cpus(allowed: Sequence[int], reverb_cpus: int, train_cpus: int, num_workers: int,
                  worker_cpus: int) -> CpuPlan:
  """Assigns CPU ids to the replay server, the learner and each worker, in that order.

  With enough CPUs every program gets its own contiguous block of the allowed ids. With
  fewer, ids are handed out round-robin over the allowed list, so load spreads evenly; a
  program never gets the same id twice, and one that asks for more CPUs than are allowed
  gets all of them.

  Args:
    allowed: CPU ids this job may use (non-empty).
    reverb_cpus, train_cpus, worker_cpus: CPUs per program (>= 1).
    num_workers: Number of collect/eval workers (>= 1).

  Returns:
    The `CpuPlan`.

  Raises:
    ValueError: for an empty `allowed` list or counts below 1.
  """
  for name, value in (("reverb_cpus", reverb_cpus), ("train_cpus", train_cpus),
                      ("num_workers", num_workers), ("worker_cpus", worker_cpus)):
    if value < 1:
      raise ValueError(f"{name} must be >= 1, got {value}")
  requests = [(constants.REPLAY_PROGRAM, reverb_cpus), (constants.LEARNER_PROGRAM, train_cpus)]
  requests += [(constants.worker_program(i), worker_cpus) for i in range(num_workers)]
  return allocate_requests(allowed, requests)


def allocate_requests(allowed: Sequence[int], requests: Sequence[Tuple[str, int]]) -> CpuPlan:
  """Assigns CPU ids to (program, count) requests in order (see `allocate_cpus`)."""
  available = tuple(sorted(set(allowed)))
  if not available:
    raise ValueError("no CPUs allowed")
  requested = sum(count for _, count in requests)
  assignments = []
  cursor = 0
  for program, count in requests:
    if count < 1:
      raise ValueError(f"{program} must get >= 1 CPU, got {count}")
    take = min(count, len(available))
    ids = [available[(cursor + k) % len(available)] for k in range(take)]
    cursor = (cursor + take) % len(available)
    assignments.append((program, tuple(sorted(ids))))
  return CpuPlan(tuple(assignments), requested, available)
