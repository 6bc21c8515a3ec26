"""The private network namespace of single-host runs (sac_system/private_network.py): the
loopback it brings up, as root and as an unprivileged user, and how the launcher decides. The
end-to-end check (the replay port refused from outside a running run) is in
tests/test_end_to_end.py."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO
from sac_system import launcher
from sac_system import private_network
from sac_system.errors import UserInputError
from sac_system.training_variables import TrainingVariables

# Binds a port on 127.0.0.1 and connects to it: loopback works in the namespace it runs in.
LOOPBACK_CHECK = """
import socket, sys
sys.path.insert(0, {folder!r})
import private_network
private_network.bring_loopback_up()
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
socket.create_connection(server.getsockname(), timeout=5).close()
print(private_network.namespace_id())
"""


def run_in_new_namespace(prefix):
  code = LOOPBACK_CHECK.format(folder=os.path.join(REPO, "sac_system"))
  # the system Python: an unprivileged user may not read the project's interpreter's folder
  python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
  return subprocess.run(prefix + [python, "-c", code], capture_output=True, text=True, timeout=60,
                        check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="the root path needs root")
def test_root_gets_a_namespace_whose_loopback_works():
  result = run_in_new_namespace(private_network.unshare_prefix())
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() != private_network.namespace_id()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"),
                    reason="needs root to become an unprivileged user")
def test_an_unprivileged_user_gets_one_through_a_user_namespace():
  prefix = ["runuser", "-u", "nobody", "--", "unshare", "--user", "--map-root-user", "--net"]
  result = run_in_new_namespace(prefix)
  if "Operation not permitted" in result.stderr and "unshare" in result.stderr:
    # a kernel without unprivileged user namespaces: what must hold then is that the launcher,
    # run by that user, finds out and says why (it then warns that the port is open)
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    check = subprocess.run([
        "runuser", "-u", "nobody", "--", python, "-c",
        f"import sys; sys.path.insert(0, {os.path.join(REPO, 'sac_system')!r}); "
        "import private_network; print(private_network.available())"], capture_output=True,
                           text=True, timeout=60, check=False)
    assert "unprivileged user namespaces are not available here" in check.stdout, check
    return
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip().startswith("net:[")
  assert result.stdout.strip() != private_network.namespace_id()


def test_inside_only_in_another_namespace_than_the_one_left(monkeypatch):
  monkeypatch.delenv(private_network.INSIDE_ENV, raising=False)
  assert not private_network.inside()
  monkeypatch.setenv(private_network.INSIDE_ENV, private_network.namespace_id())
  assert not private_network.inside()  # an inherited value in the same namespace is no proof
  monkeypatch.setenv(private_network.INSIDE_ENV, "net:[1]")
  assert private_network.inside()


def variables(tmp_path, private="auto", host="127.0.0.1"):
  return TrainingVariables(path=str(tmp_path / "vars.sh"), params_path="p.py", config_path="c.json",
                           exp_name="run", reverb_cpus=1, train_cpus=1, num_collect_workers=1,
                           collect_worker_cpus=1, replay_host=host, replay_port=None, seed=None,
                           logs_dir=str(tmp_path), private_network=private)


@pytest.fixture
def no_exec(monkeypatch):
  """Records the launcher's re-execution instead of doing it."""
  calls = []
  monkeypatch.delenv(private_network.INSIDE_ENV, raising=False)

  def fake_exec(file, argv, env):
    calls.append((file, argv, env))
    raise SystemExit(0)

  monkeypatch.setattr(os, "execvpe", fake_exec)
  return calls


def test_the_launcher_re_executes_itself_under_unshare(tmp_path, no_exec, monkeypatch):
  monkeypatch.setattr(private_network, "available", lambda: None)
  with pytest.raises(SystemExit):
    launcher.enter_private_network(variables(tmp_path), ["vars.sh", "--fresh"])
  (file, argv, env), = no_exec
  assert file == "unshare" and argv[:len(private_network.unshare_prefix())] == (
      private_network.unshare_prefix())
  assert argv[-4:] == ["-m", "sac_system.launcher", "vars.sh", "--fresh"]
  assert env[private_network.INSIDE_ENV] == private_network.namespace_id()


def test_no_shares_the_network_without_a_warning(tmp_path, no_exec):
  assert launcher.enter_private_network(variables(tmp_path, "no"), ["vars.sh"]) is None
  assert not no_exec


def test_auto_where_not_allowed_warns_and_yes_refuses(tmp_path, no_exec, monkeypatch):
  monkeypatch.setattr(private_network, "available", lambda: "no user namespaces here")
  assert launcher.enter_private_network(variables(tmp_path), ["v"]) == "no user namespaces here"
  with pytest.raises(UserInputError) as error:
    launcher.enter_private_network(variables(tmp_path, "yes"), ["v"])
  assert "SAC_PRIVATE_NETWORK: is yes, but the run cannot have a private network: no user " \
         "namespaces here" in str(error.value)
  assert not no_exec


def test_a_replay_host_off_loopback_is_not_made_private(tmp_path, no_exec):
  why = launcher.enter_private_network(variables(tmp_path, host="node7"), ["v"])
  assert why == "SAC_REPLAY_HOST is node7, not loopback" and not no_exec


def test_a_namespace_without_loopback_is_a_one_line_error(tmp_path, monkeypatch):
  monkeypatch.setattr(private_network, "inside", lambda: True)

  def refuse():
    raise PermissionError(1, "Operation not permitted")

  monkeypatch.setattr(private_network, "bring_loopback_up", refuse)
  with pytest.raises(UserInputError) as error:
    launcher.enter_private_network(variables(tmp_path), ["v"])
  assert "SAC_PRIVATE_NETWORK: the run's private network has no loopback" in str(error.value)
  assert "set SAC_PRIVATE_NETWORK=no" in str(error.value)


def test_available_says_why_not(monkeypatch):
  assert private_network.available() is None  # here: root, or user namespaces allowed
  monkeypatch.setattr(private_network, "unshare_prefix", lambda: ["false"])
  why = private_network.available()
  assert why is not None and ("unshare --net failed" in why or "not available here" in why)
  monkeypatch.setattr(private_network, "unshare_prefix", lambda: ["no-such-unshare-command"])
  assert private_network.available() == "the unshare command (util-linux) is missing"
