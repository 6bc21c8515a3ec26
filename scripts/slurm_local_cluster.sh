#!/usr/bin/env bash
# Starts a real single-node SLURM cluster on this machine for the tests (idempotent; root).
# Installs Debian's slurm-wlm and munge when missing, writes /etc/slurm/slurm.conf for this
# host, and starts munged, slurmctld and slurmd. The node is declared with SAC_SLURM_CPUS CPUs
# (default 20, more than a 2-core test machine has: the job size rule adds 2 CPUs to what the
# programs ask for, and a sweep's 4 tiny array tasks of 5 CPUs should run at once) and
# `SlurmdParameters=config_overrides`, so SLURM schedules the declared CPUs while the jobs'
# processes share the real ones. `scripts/slurm_local_cluster.sh stop`
# stops the daemons.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "error: $0 must run as root" >&2; exit 2; fi
# Only this machine's own daemons: those in this shell's network namespace. (An emulated
# cluster's daemons, scripts/emulated_cluster.py, run in namespaces of their own.)
here=(--ns $$ --nslist net)
if [ "${1:-}" = stop ]; then
  pkill "${here[@]}" -x slurmd || true; pkill "${here[@]}" -x slurmctld || true; pkill "${here[@]}" -x munged || true
  exit 0
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "[slurm] installing slurm-wlm and munge (Debian packages)" >&2
  # the lock timeout: the emulated cluster's tests may be installing them at the same moment
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq slurm-wlm munge >/dev/null
fi
host="$(hostname -s)"
cpus="${SAC_SLURM_CPUS:-20}"
memory_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /var/lib/munge /var/log/munge
cat > /etc/slurm/slurm.conf <<CONF
# Written by sac_system's scripts/slurm_local_cluster.sh for tests on this host.
ClusterName=sac_system_test
SlurmctldHost=${host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
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
KillWait=30
# Completed jobs stay visible to scontrol for an hour (the tests read array tasks after the fact)
MinJobAge=3600
NodeName=${host} CPUs=${cpus} RealMemory=${memory_mb} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
if [ ! -s /etc/munge/munge.key ]; then mungekey --create --keyfile=/etc/munge/munge.key; fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0400 /etc/munge/munge.key
chmod 0755 /run/munge
# Each daemon is started unless it answers already, then checked: a daemon killed earlier
# (a previous session, a CI machine reused) leaves pid files and sockets that must not fool us.
if ! (munge -n | unmunge) >/dev/null 2>&1; then
  pkill "${here[@]}" -x munged || true
  runuser -u munge -- /usr/sbin/munged --force  # --force: a stale socket is no obstacle
fi
for _ in $(seq 20); do (munge -n | unmunge) >/dev/null 2>&1 && break; sleep 0.5; done
(munge -n | unmunge) >/dev/null 2>&1 || { echo "error: munged does not answer; see /var/log/munge/munged.log" >&2; exit 1; }
if [ -f /run/sac_slurm.conf.sha256 ] && ! sha256sum -c --status /run/sac_slurm.conf.sha256; then
  pkill "${here[@]}" -x slurmd || true; pkill "${here[@]}" -x slurmctld || true; sleep 1
fi
sha256sum /etc/slurm/slurm.conf > /run/sac_slurm.conf.sha256
if ! timeout 5 scontrol ping 2>/dev/null | grep -q "is UP"; then
  pkill "${here[@]}" -x slurmctld || true
  rm -f /run/slurmctld.pid
  /usr/sbin/slurmctld
fi
for _ in $(seq 30); do timeout 5 scontrol ping 2>/dev/null | grep -q "is UP" && break; sleep 1; done
if ! timeout 5 scontrol ping 2>/dev/null | grep -q "is UP"; then
  echo "error: slurmctld does not answer; see /var/log/slurm/slurmctld.log" >&2
  tail -n 5 /var/log/slurm/slurmctld.log >&2 || true
  exit 1
fi
if ! pgrep "${here[@]}" -x slurmd >/dev/null; then
  rm -f /run/slurmd.pid
  /usr/sbin/slurmd
fi
for _ in $(seq 60); do
  state="$(timeout 5 sinfo -h -n "$host" -o %t 2>/dev/null || true)"
  case "$state" in
    idle*|mix*|alloc*) echo "[slurm] node $host is $state with $cpus CPUs" >&2; exit 0 ;;
    drain*|down*) timeout 5 scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
  esac
  sleep 1
done
echo "error: the SLURM node did not come up; see /var/log/slurm/*.log" >&2
tail -n 5 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
