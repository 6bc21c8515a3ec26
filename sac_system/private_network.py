"""A private network namespace for a single-host run: a replay port nothing else can reach.

Reverb 0.14 has no bind address: its server listens on every interface of the machine
(`[::]:port`), so on a shared workstation or a cluster node anyone who can reach the machine can
sample the replay data, or insert into it. A single-host run needs no network at all (its N+2
programs talk over loopback), so the launcher re-executes itself under `unshare --net`, in a new
network namespace that holds only its own loopback interface: the programs it starts inherit it,
and the replay port exists nowhere else (docs/design.md §8.6).

Root gets the namespace directly (`unshare --net`). Other users get it inside a user namespace
(`unshare --user --map-root-user --net`) where the kernel allows unprivileged user namespaces;
files they write keep their own uid. Where neither works, the run shares the host's network and
the launcher says so in one warning line. `SAC_PRIVATE_NETWORK` in the training-variables file
chooses: `auto` (default), `yes` (refuse to start without it) or `no` (share the host's network,
e.g. for an environment that talks to a remote simulator).
"""

import fcntl
import os
import socket
import struct
import subprocess
import sys
from typing import List, Optional

# The namespace the launcher left, set in its environment when it re-executes itself: it is
# inside its private namespace when it runs in another one.
INSIDE_ENV = "SAC_LEFT_NETWORK_NAMESPACE"
CHOICES = ("auto", "yes", "no")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def inside() -> bool:
  """Whether this process is the launcher re-executed in its private namespace."""
  left = os.environ.get(INSIDE_ENV)
  return bool(left) and left != namespace_id()


def unshare_prefix() -> List[str]:
  """The `unshare` command line that gives a new network namespace to this user."""
  if os.geteuid() == 0:
    return ["unshare", "--net"]
  return ["unshare", "--user", "--map-root-user", "--net"]


# Run by `available()` inside a new namespace: this module's loopback set-up, as the launcher
# will do it there (a user namespace may forbid configuring interfaces, e.g. under AppArmor).
_PROBE = ("import sys; sys.path.insert(0, sys.argv[1]); import private_network; "
          "private_network.bring_loopback_up()")


def available() -> Optional[str]:
  """None when `unshare_prefix()` gives this user a namespace whose loopback comes up, else
  why not (one phrase)."""
  probe = [sys.executable, "-c", _PROBE, os.path.dirname(os.path.abspath(__file__))]
  try:
    result = subprocess.run(unshare_prefix() + probe, capture_output=True, text=True, timeout=30,
                            check=False)
  except FileNotFoundError:
    return "the unshare command (util-linux) is missing"
  except subprocess.TimeoutExpired:
    return "unshare did not return within 30 s"
  if result.returncode == 0:
    return None
  why = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "it failed"
  if os.geteuid() == 0:
    return f"unshare --net failed ({why})"
  return f"unprivileged user namespaces are not available here ({why})"


def bring_loopback_up() -> None:
  """Sets the `lo` interface of this network namespace up (a new namespace starts with it down).

  Raises:
    OSError: when this process may not configure the namespace's interfaces.
  """
  with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
    request = struct.pack("16sH22x", b"lo", 0)  # struct ifreq: name, flags, padding to 40 bytes
    flags = struct.unpack("16sH22x", fcntl.ioctl(probe, _SIOCGIFFLAGS, request))[1]
    fcntl.ioctl(probe, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def namespace_id(pid: str = "self") -> str:
  """The network namespace of process `pid`, e.g. 'net:[4026531840]'."""
  return os.readlink(f"/proc/{pid}/ns/net")
