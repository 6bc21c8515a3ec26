"""The one exception type for bad user input, and the one way a program reports it.

A `UserInputError` carries a one-line message that names the file, the key and what was
expected. Entry points catch it and `return report(error)`: `error: <message>` on stderr and
exit status 2, before any process of the run is started. Pure module.
"""

import sys

EXIT_BAD_INPUT = 2


class UserInputError(Exception):
  """Bad input from the user: a variables file, params file, JSON config or flag."""

  def __init__(self, source: str, key: str, problem: str):
    """Builds the error.

    Args:
      source: The file (or flag) the bad value came from.
      key: The key, variable or field within `source`; empty if the whole file is bad.
      problem: What is wrong and what was expected.
    """
    self.source = str(source)
    self.key = key
    self.problem = problem
    where = f"{self.source}: {key}" if key else self.source
    super().__init__(f"{where}: {problem}".replace("\n", " "))


def report(error: UserInputError) -> int:
  """Prints `error: <message>` on stderr and returns the bad-input exit status (2)."""
  print(f"error: {error}", file=sys.stderr)
  return EXIT_BAD_INPUT
