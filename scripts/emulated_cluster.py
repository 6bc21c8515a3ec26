#!/usr/bin/env python3
"""An emulated multi-host SLURM cluster on this one machine (root): separate hosts for the tests
of multi-node training and of host and network faults, and for a curious user.

    sudo python3 scripts/emulated_cluster.py up --nodes 3      # prints the cluster's folder
    sudo python3 scripts/emulated_cluster.py run DIR n1 -- hostname
    sudo python3 scripts/emulated_cluster.py run DIR ctl -- sinfo
    sudo python3 scripts/emulated_cluster.py link DIR n2 down   # pull n2's cable (and: up)
    sudo python3 scripts/emulated_cluster.py kill DIR n2        # n2 dies: every process on it
    sudo python3 scripts/emulated_cluster.py boot DIR n2        # n2 comes back (its slurmd)
    sudo python3 scripts/emulated_cluster.py down DIR           # nothing left behind

Each host is a network namespace with one veth into a bridge that lives in a "switch" namespace,
an address on a private subnet (10.213.0.0/24) and, for every command run on it, its own host name
(a UTS namespace) and a hosts file naming every host (bind-mounted in a private mount namespace).
Host `ctl` runs the cluster's own munged and slurmctld (and is where users submit from); hosts
`n1` ... `nN` each run one slurmd. Names, namespaces, the munge socket and key, slurm.conf, the
state, spool and log folders are this cluster's own (a folder under /tmp), so it runs beside the
machine's own SLURM (scripts/slurm_local_cluster.sh) and beside other emulated clusters.
Processes belong to a host by their network namespace: `kill` and `down` find them there.

Safety: the emulated addresses exist only inside these namespaces. Every command that talks to
them runs through `Cluster.command` (inside a host's namespace, with SLURM_CONF pointing at this
cluster); nothing here sends traffic to them from the machine's own namespace, where it would be
routed out of the machine. Files are shared, as on a cluster with a shared file system.
"""

import argparse
import dataclasses
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

SUBNET = "10.213.0"
CONTROLLER = "ctl"
SLURMCTLD_PORT = 16817
SLURMD_PORT = 16818
STATE_FILE = "cluster.json"
# Runs in the host's new UTS and mount namespaces: its host name and hosts file, then the command.
_ENTER_HOST = ('hostname "$1" && mount --bind "$2" /etc/hosts && shift 2 && '
               'if [ -e /etc/resolv.conf ]; then mount --bind "$0" /etc/resolv.conf; fi && '
               'exec "$@"')


def _run(command: List[str], timeout: float = 30.0) -> subprocess.CompletedProcess:
  return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)


def processes_in_namespaces(namespaces) -> List[int]:
  """Pids of the processes in the network namespaces of inode numbers `namespaces`, and of all
  their descendants wherever they are."""
  members, children = set(), {}
  for entry in os.listdir("/proc"):
    if not entry.isdigit():
      continue
    try:
      if os.stat(f"/proc/{entry}/ns/net").st_ino in namespaces:
        members.add(int(entry))
      with open(f"/proc/{entry}/stat") as stat:
        parent = int(stat.read().rsplit(")", 1)[1].split()[1])
      children.setdefault(parent, []).append(int(entry))
    except (FileNotFoundError, PermissionError, ProcessLookupError, ValueError, IndexError):
      pass
  found, todo = set(members), list(members)
  while todo:
    for child in children.get(todo.pop(), []):
      if child not in found:
        found.add(child)
        todo.append(child)
  return sorted(found)


def wait_until(check, timeout: float, what: str) -> None:
  """Polls `check()` until it is true; TimeoutError naming `what` after `timeout` s."""
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    if check():
      return
    time.sleep(0.2)
  raise TimeoutError(f"the emulated cluster: timed out after {timeout:.0f} s waiting for {what}")


@dataclasses.dataclass
class Host:
  name: str  # the short name: ctl, n1, n2, ...
  hostname: str  # its host name, unique to this cluster
  address: str
  namespace: str  # under /run/netns/
  port: str  # its veth's end in the switch namespace


class Cluster:
  """A running emulated cluster, described by DIR/cluster.json."""

  def __init__(self, folder: str):
    self.folder = os.path.abspath(folder)
    with open(os.path.join(self.folder, STATE_FILE)) as state_file:
      state = json.load(state_file)
    self.ident = state["ident"]
    self.switch = state["switch"]
    self.hosts = {h["name"]: Host(**h) for h in state["hosts"]}
    self.cpus = state["cpus"]

  # ----- running things on a host ------------------------------------------------------------
  @property
  def slurm_conf(self) -> str:
    return os.path.join(self.folder, "slurm.conf")

  @property
  def nodes(self) -> List[str]:
    return [name for name in self.hosts if name != CONTROLLER]

  def env(self, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment of commands on the cluster: this cluster's slurm.conf, no job of an
    outer SLURM."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["SLURM_CONF"] = self.slurm_conf
    env.update(extra or {})
    return env

  def command(self, host: str, command: List[str]) -> List[str]:
    """`command` as run on `host`: in its network namespace, with its host name and hosts file."""
    entry = self.hosts[host]
    return [
        "nsenter", f"--net=/run/netns/{entry.namespace}", "--", "unshare", "--uts", "--mount",
        "--propagation", "private", "--", "/bin/sh", "-c", _ENTER_HOST,
        os.path.join(self.folder, "resolv.conf"), entry.hostname,
        os.path.join(self.folder, "hosts")] + list(command)

  def run(self, host: str, command: List[str], timeout: float = 60.0, check: bool = True,
          env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None):
    """Runs `command` on `host` and waits (bounded by `timeout`)."""
    return subprocess.run(self.command(host, command), capture_output=True, text=True,
                          timeout=timeout, check=check, env=self.env(env), cwd=cwd)

  def start(self, host: str, command: List[str], log_name: str) -> subprocess.Popen:
    """Starts a long-running `command` on `host` (a daemon in the foreground), its output in
    DIR/log/<log_name>."""
    with open(os.path.join(self.folder, "log", log_name), "ab") as log:
      return subprocess.Popen(self.command(host, command), stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, env=self.env(), start_new_session=True)

  # ----- hosts and their processes -----------------------------------------------------------
  def pids(self, host: str) -> List[int]:
    """Processes on `host`: those in its network namespace and all their descendants (a
    single-host run started on the host moves into a private namespace of its own)."""
    try:
      target = os.stat(f"/run/netns/{self.hosts[host].namespace}").st_ino
    except FileNotFoundError:
      return []
    return processes_in_namespaces({target})

  def kill(self, host: str, timeout: float = 10.0) -> int:
    """Kills every process on `host` (SIGKILL): the host is dead. Returns how many."""
    killed = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
      pids = self.pids(host)
      if not pids:
        break
      for pid in pids:
        try:
          os.kill(pid, signal.SIGKILL)
          killed += 1
        except ProcessLookupError:
          pass
      time.sleep(0.1)
    return killed

  def boot(self, host: str) -> None:
    """Starts the daemons of `host` (after `kill`, or at `up`)."""
    if host == CONTROLLER:
      munge = os.path.join(self.folder, "munge")
      self.start(host, [
          "munged", "--foreground", "--force", f"--socket={munge}/munge.socket",
          f"--key-file={munge}/munge.key", f"--pid-file={munge}/munged.pid",
          f"--seed-file={munge}/munged.seed", f"--log-file={munge}/munged.log"], "munged.out")
      wait_until(lambda: os.path.exists(f"{munge}/munge.socket"), 15, "munged")
      self.start(host, ["slurmctld", "-D", "-c"], "slurmctld.out")
    else:
      self.start(host, ["slurmd", "-D", "-N", self.hosts[host].hostname], f"slurmd-{host}.out")

  def link(self, host: str, up: bool) -> None:
    """Plugs (`up`) or pulls the cable of `host`: its veth's end in the switch."""
    _run(["ip", "-n", self.switch, "link", "set", self.hosts[host].port, "up" if up else "down"])

  def node_states(self) -> Dict[str, str]:
    """sinfo's state of each node (idle, alloc, mix, down*, ...), by short name."""
    result = self.run(CONTROLLER, ["sinfo", "-h", "-N", "-o", "%N %t"], timeout=20, check=False)
    by_hostname = dict(line.split() for line in result.stdout.splitlines() if line.strip())
    return {
        name: by_hostname[host.hostname] for name, host in self.hosts.items()
        if host.hostname in by_hostname}

  def wait_nodes_up(self, nodes: Optional[List[str]] = None, timeout: float = 60.0) -> None:
    """Waits until `nodes` (default all) take jobs (idle, mixed or allocated)."""
    nodes = nodes or self.nodes

    def up():
      states = self.node_states()
      return all(
          states.get(n, "").rstrip("*~#") in ("idle", "mix",
                                              "alloc") and not states.get(n, "").endswith("*")
          for n in nodes)

    wait_until(up, timeout, f"nodes {', '.join(nodes)} to come up")

  # ----- life cycle --------------------------------------------------------------------------
  def namespace_inodes(self) -> set:
    """The inode numbers of the cluster's network namespaces (empty once it is down)."""
    inodes = set()
    for name in [h.namespace for h in self.hosts.values()] + [self.switch]:
      try:
        inodes.add(os.stat(f"/run/netns/{name}").st_ino)
      except FileNotFoundError:
        pass
    return inodes

  def down(self) -> None:
    """Kills every process on every host, deletes the namespaces and the folder."""
    for host in self.hosts:
      self.kill(host)
    for host in self.hosts.values():
      subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "del", self.switch], capture_output=True, check=False)
    shutil.rmtree(self.folder, ignore_errors=True)


def slurm_conf(folder: str, cluster_name: str, controller: Host, nodes: List[Host], cpus: int,
               slurmd_timeout: int) -> str:
  memory_mb = 2048
  node_lines = "\n".join(
      f"NodeName={node.hostname} NodeAddr={node.address} CPUs={cpus} RealMemory={memory_mb} "
      "State=UNKNOWN" for node in nodes)
  return f"""\
# An emulated cluster of sac_system's scripts/emulated_cluster.py (deleted by its `down`).
ClusterName={cluster_name}
SlurmctldHost={controller.hostname}({controller.address})
SlurmctldPort={SLURMCTLD_PORT}
SlurmdPort={SLURMD_PORT}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire is also how long SLURM holds a requeued job before it may start again (120 s by
# default); the scheduler looks at pending jobs every 2 s (60 s and 30 s by default)
AuthInfo=socket={folder}/munge/munge.socket,cred_expire=10
SchedulerParameters=sched_interval=2,bf_interval=2
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool/%n
SlurmctldPidFile={folder}/run/slurmctld.pid
SlurmdPidFile={folder}/run/slurmd-%n.pid
SlurmctldLogFile={folder}/log/slurmctld.log
SlurmdLogFile={folder}/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SlurmdTimeout={slurmd_timeout}
KillWait=10
MinJobAge=3600
{node_lines}
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
"""


# Debian packages of the tools the cluster runs.
PACKAGES = {
    "ip": "iproute2",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "munged": "munge",
    "slurmctld": "slurm-wlm",
    "slurmd": "slurm-wlm",
    "sinfo": "slurm-wlm"}


def install_missing() -> None:
  """Installs the Debian packages of missing tools (root, apt-get; waits for apt's lock)."""
  missing = sorted({package for tool, package in PACKAGES.items() if not shutil.which(tool)})
  if not missing:
    return
  if not shutil.which("apt-get"):
    raise RuntimeError(f"the emulated cluster needs the packages {', '.join(missing)}")
  print(f"[emulated_cluster] installing {' '.join(missing)}", file=sys.stderr, flush=True)
  apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600"]
  env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
  subprocess.run(apt + ["update", "-qq"], check=True, env=env, capture_output=True, timeout=900)
  subprocess.run(apt + ["install", "-y", "-qq"] + missing, check=True, env=env, capture_output=True,
                 timeout=900)


def up(nodes: int = 3, cpus: int = 4, slurmd_timeout: int = 300, parent: Optional[str] = None,
       timeout: float = 60.0) -> Cluster:
  """Builds and starts a cluster of a controller and `nodes` nodes of `cpus` CPUs each (declared
  to SLURM; they share the machine's real CPUs). Returns it once every node takes jobs; on any
  failure it is torn down again."""
  if os.geteuid() != 0:
    raise RuntimeError("the emulated cluster needs root (network namespaces, slurmd)")
  install_missing()
  ident = secrets.token_hex(3)
  folder = tempfile.mkdtemp(prefix=f"sac_emulated_cluster_{ident}_", dir=parent)
  names = [CONTROLLER] + [f"n{i}" for i in range(1, nodes + 1)]
  hosts = [
      Host(name=name, hostname=f"emu{ident}-{name}", address=f"{SUBNET}.{10 + index}",
           namespace=f"sacemu-{ident}-{name}", port=f"p{index}")
      for index, name in enumerate(names)]
  switch = f"sacemu-{ident}-switch"
  with open(os.path.join(folder, STATE_FILE), "w") as state_file:
    json.dump(
        {
            "ident": ident,
            "switch": switch,
            "cpus": cpus,
            "hosts": [dataclasses.asdict(h) for h in hosts]}, state_file, indent=2)
  cluster = Cluster(folder)
  try:
    for sub in ("munge", "state", "spool", "run", "log"):
      os.makedirs(os.path.join(folder, sub), mode=0o700)
    for host in hosts[1:]:
      os.makedirs(os.path.join(folder, "spool", host.hostname), mode=0o700)
    with open(os.path.join(folder, "hosts"), "w") as hosts_file:
      hosts_file.write("127.0.0.1 localhost\n::1 localhost\n")
      hosts_file.writelines(f"{h.address} {h.hostname}\n" for h in hosts)
    open(os.path.join(folder, "resolv.conf"), "w").close()  # no DNS: only the hosts file
    with open(os.path.join(folder, "munge", "munge.key"), "wb") as key_file:
      key_file.write(secrets.token_bytes(1024))
    os.chmod(os.path.join(folder, "munge", "munge.key"), 0o400)
    with open(cluster.slurm_conf, "w") as conf_file:
      conf_file.write(slurm_conf(folder, f"emu{ident}", hosts[0], hosts[1:], cpus, slurmd_timeout))
    # the network: a bridge in the switch namespace, one veth per host into it
    _run(["ip", "netns", "add", switch])
    _run(["ip", "-n", switch, "link", "add", "br0", "type", "bridge"])
    _run(["ip", "-n", switch, "link", "set", "br0", "up"])
    for host in hosts:
      _run(["ip", "netns", "add", host.namespace])
      _run([
          "ip", "-n", switch, "link", "add", host.port, "type", "veth", "peer", "name", "eth0",
          "netns", host.namespace])
      _run(["ip", "-n", switch, "link", "set", host.port, "master", "br0", "up"])
      _run(["ip", "-n", host.namespace, "link", "set", "lo", "up"])
      _run(["ip", "-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0"])
      _run(["ip", "-n", host.namespace, "link", "set", "eth0", "up"])
    cluster.boot(CONTROLLER)
    wait_until(
        lambda: cluster.run(CONTROLLER, ["scontrol", "ping"], timeout=20, check=False).stdout.count(
            "is UP") >= 1, timeout, "slurmctld")
    for node in cluster.nodes:
      cluster.boot(node)
    cluster.wait_nodes_up(timeout=timeout)
  except BaseException:
    cluster.down()
    raise
  return cluster


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  commands = parser.add_subparsers(dest="what", required=True)
  start = commands.add_parser("up", help="build and start a cluster; prints its folder")
  start.add_argument("--nodes", type=int, default=3)
  start.add_argument("--cpus", type=int, default=4, help="CPUs each node declares to SLURM")
  start.add_argument("--slurmd_timeout", type=int, default=300)
  run = commands.add_parser("run", help="run a command on a host")
  run.add_argument("folder")
  run.add_argument("host")
  run.add_argument("command", nargs=argparse.REMAINDER)
  link = commands.add_parser("link", help="pull (down) or plug (up) a host's cable")
  link.add_argument("folder")
  link.add_argument("host")
  link.add_argument("state", choices=("up", "down"))
  for name, text in (("kill", "kill every process of a host"), ("boot",
                                                                "start a host's daemons again")):
    sub = commands.add_parser(name, help=text)
    sub.add_argument("folder")
    sub.add_argument("host")
  stop = commands.add_parser("down", help="stop everything and delete the cluster")
  stop.add_argument("folder")
  args = parser.parse_args(argv)
  if args.what == "up":
    cluster = up(args.nodes, args.cpus, args.slurmd_timeout)
    print(cluster.folder)
    return 0
  cluster = Cluster(args.folder)
  if args.what == "run":
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return subprocess.run(cluster.command(args.host, command), env=cluster.env(),
                          check=False).returncode
  if args.what == "link":
    cluster.link(args.host, args.state == "up")
  elif args.what == "kill":
    print(f"killed {cluster.kill(args.host)} process(es) on {args.host}")
  elif args.what == "boot":
    cluster.boot(args.host)
  elif args.what == "down":
    cluster.down()
  return 0


if __name__ == "__main__":
  sys.exit(main())
