"""Atomic writes (sac_system/files.py): whole files or none, never half of one."""

import json
import os

import pytest

from sac_system import files


def test_a_written_file_appears_whole_and_no_temporary_file_remains(tmp_path):
  path = str(tmp_path / "new" / "results.json")
  files.write_json(path, {"returns": [1.5, 2.5]})
  assert json.load(open(path)) == {"returns": [1.5, 2.5]}
  assert os.listdir(tmp_path / "new") == ["results.json"]


def test_a_write_that_fails_leaves_the_old_file_as_it_was(tmp_path):
  path = str(tmp_path / "table.csv")
  files.write_text(path, "a,b\n1,2\n")
  with pytest.raises(RuntimeError, match="crash"), files.atomic_path(path) as temporary:
    assert temporary.endswith(".partial.csv")  # writers that pick a format by extension
    with open(temporary, "w") as partial:
      partial.write("a,b\n3")
    raise RuntimeError("crash mid-write")
  assert open(path).read() == "a,b\n1,2\n"
  assert os.listdir(tmp_path) == ["table.csv"]
