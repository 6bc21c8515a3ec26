"""The one exception type for bad user input.

A `UserInputError` carries a one-line message that names the file, the key and what was
expected. Entry points catch it, print `error: <message>` on stderr and exit with status 2,
before any process of the run is started. Pure module.
"""


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
