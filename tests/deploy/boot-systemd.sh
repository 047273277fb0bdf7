#!/bin/bash
# Boots the systemd of root file system $1 as PID 1, for tests/deploy/machine.py.
# Run inside fresh pid, mount, cgroup, uts, ipc and network namespaces (unshare), so the
# machine sees only its own processes and mounts and has nothing but a loopback interface.
# /tmp and /run are mounted noexec, as on a hardened host booted through an initramfs.
set -euo pipefail
R=$1
CONSOLE=$2

ip link set lo up
mount --make-rprivate /
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount -t sysfs -o ro sysfs "$R/sys"
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=755,nosuid,nodev,noexec tmpfs "$R/run"
mount -t tmpfs -o mode=1777,nosuid,nodev,noexec tmpfs "$R/tmp"
mount -t tmpfs -o mode=755,nosuid tmpfs "$R/dev"
for node in null zero full random urandom tty; do
    touch "$R/dev/$node"
    mount --bind "/dev/$node" "$R/dev/$node"
done
# what systemd prints before its journal runs goes to a file the test shows when boot fails
touch "$R/dev/console"
mount --bind "$CONSOLE" "$R/dev/console"
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev,noexec tmpfs "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
ln -s /proc/self/fd "$R/dev/fd"
for i in 0 1 2; do ln -s "/proc/self/fd/$i" "$R/dev/$(echo stdin stdout stderr | cut -d' ' -f$((i + 1)))"; done

mkdir -p "$R/.host"
cd "$R"
pivot_root . .host
umount -l /.host
rmdir /.host
exec /usr/bin/env -i container=dalleserver-test TERM=dumb /lib/systemd/systemd \
    --log-target=journal-or-kmsg --log-level=info --show-status=no
