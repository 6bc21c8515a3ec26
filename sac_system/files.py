"""Atomic writes: a crash never leaves half a file where a reader expects a whole one.

Everything a run or run.py writes for later (videos, CSVs, JSON, plots) is written to a
temporary name beside its destination and renamed into place (`os.replace` is atomic on one
file system). Policy checkpoints (directories) are renamed the same way by the learner.
Pure module.
"""

import contextlib
import json
import os
from typing import Any, Iterator, Optional


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
  """Yields a temporary path beside `path` (same extension, so writers that choose a format
  by extension still work); on success it is renamed to `path`, on failure removed.

  Creates the folder of `path` when missing.
  """
  directory = os.path.dirname(path)
  if directory:
    os.makedirs(directory, exist_ok=True)
  stem, extension = os.path.splitext(path)
  temporary = f"{stem}.partial{extension}"
  try:
    yield temporary
    os.replace(temporary, path)
  finally:
    if os.path.exists(temporary):
      os.remove(temporary)


def write_text(path: str, text: str) -> None:
  """Writes `text` to `path` atomically."""
  with atomic_path(path) as temporary, open(temporary, "w") as output:
    output.write(text)


def write_json(path: str, value: Any) -> None:
  """Writes `value` as indented JSON to `path` atomically."""
  write_text(path, json.dumps(value, indent=2) + "\n")


DISK_FULL_MESSAGES = ("No space left on device", "Disk quota exceeded")


def disk_full(error: BaseException) -> bool:
  """Whether `error` (or one it was raised from) is a full disk or quota: an OSError with
  ENOSPC/EDQUOT, or a TensorFlow/Reverb error carrying the OS's message."""
  import errno
  seen = set()
  current: Optional[BaseException] = error
  while current is not None and id(current) not in seen:
    seen.add(id(current))
    if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
      return True
    if any(message in str(current) for message in DISK_FULL_MESSAGES):
      return True
    current = current.__cause__ or current.__context__
  return False
