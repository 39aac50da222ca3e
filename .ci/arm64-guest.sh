#!/usr/bin/env bash
# arm64-guest.sh: run a shell command on a real aarch64 Linux kernel.
#
#   .ci/arm64-guest.sh [--cache DIR] 'COMMAND'
#
# The vfork runner's aarch64 routine needs CLONE_VM|CLONE_VFORK as the kernel
# does it; qemu-user runs such a clone as a plain fork. So this boots Debian
# 12's arm64 kernel under qemu-system-aarch64 (full-system emulation, TCG)
# with an initramfs holding Debian's arm64 python3.11 and the programs the
# suite calls (strace, binutils for the routine's bytes test, coreutils,
# mount, ldd), mounts this checkout over virtio-9p at the same path, and
# runs COMMAND there with /bin/sh, as root, in a session of its own. Exits
# with COMMAND's status; 125 if the guest never reported one.
#
# The guest is built once into DIR (default $PYSYSCALL_ARM64_CACHE, else
# /var/cache/pysyscall-arm64) from the machine's own Debian archive, with a
# private apt configuration (the system's apt state is never touched), and
# rebuilt when this script changes. Host packages (qemu-system-arm, cpio)
# are installed with apt-get when missing. The guest has no network.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$PWD
script="$checkout/.ci/arm64-guest.sh"

cache=${PYSYSCALL_ARM64_CACHE:-/var/cache/pysyscall-arm64}
if [[ ${1:-} == --cache ]]; then
    cache=$2
    shift 2
fi
[[ $# -eq 1 ]] || { echo "usage: $0 [--cache DIR] 'COMMAND'" >&2; exit 2; }
command=$1
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

note() { echo "arm64-guest: $*" >&2; }
die() { note "$*"; exit 125; }

# Guest packages, with their dependencies: the interpreter, a shell, what
# the tests run (ps, strace, id/env/readlink, mount, ldd and the bash it is
# written in, unshare for a mount namespace without /proc) and both machines'
# binutils (tools/asm.py's check).
readonly PACKAGES="python3.11 dash busybox-static procps strace coreutils mount libc-bin bash
    util-linux binutils-aarch64-linux-gnu binutils-x86-64-linux-gnu"
# Pure-Python wheels for the suite (its [test] extra without the linters,
# which .ci/test runs on the host).
readonly WHEELS="pytest hypothesis"
# Kernel modules, in load order: virtio PCI, the 9p file system, the rng
# (getrandom does not wait for entropy) and a NIC (the guest has eth0 and
# lo like a host; its network is restricted to nothing).
readonly MODULES="drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev
    drivers/virtio/virtio_pci fs/netfs/netfs fs/fscache/fscache net/9p/9pnet
    net/9p/9pnet_virtio fs/9p/9p drivers/char/hw_random/virtio-rng net/core/failover
    drivers/net/net_failover drivers/net/virtio_net"

host_packages() {
    local missing=()
    command -v qemu-system-aarch64 >/dev/null || missing+=(qemu-system-arm)
    command -v cpio >/dev/null || missing+=(cpio)
    if [[ ${#missing[@]} -gt 0 ]]; then
        note "installing ${missing[*]}"
        { apt-get install -y -qq "${missing[@]}" || { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; }; } >/dev/null
    fi
}

# The /init of the guest's initramfs.
guest_init() {
    cat <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root LANG=C.UTF-8 TMPDIR=/tmp TERM=dumb
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm /sys/fs/cgroup
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
modules=/lib/modules/$(uname -r)
for m in $(cat $modules/order); do insmod $modules/$m.ko; done
ip link set lo up
options=trans=virtio,version=9p2000.L,msize=262144
mkdir -p /run/control
mount -t 9p -o $options control /run/control
checkout=$(cat /run/control/checkout)
mkdir -p "$checkout"
mount -t 9p -o $options checkout "$checkout"
stty -F /dev/ttyAMA0 -onlcr
cd "$checkout"
# The command leads a session of its own with no controlling terminal.
setsid /bin/sh /run/control/command </dev/null >/dev/ttyAMA0 2>&1
echo $? >/run/control/status
sync
poweroff -f
EOF
}

build() {
    local work=$cache/build
    rm -rf "$work" "$cache/ready"
    mkdir -p "$work/apt/lists/partial" "$work/apt/archives/partial" "$work/debs" "$work/root"
    local archive security
    archive=$(awk '/^URIs:/ && !/security/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    security=$(awk '/^URIs:/ && /security/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [[ -n $archive ]] || die "no Debian archive in /etc/apt/sources.list.d/debian.sources"
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    {
        echo "deb [arch=arm64 signed-by=$keyring] $archive bookworm main"
        echo "deb [arch=arm64 signed-by=$keyring] $archive bookworm-updates main"
        [[ -z $security ]] || echo "deb [arch=arm64 signed-by=$keyring] $security bookworm-security main"
    } >"$work/apt/sources.list"
    local apt=(-o APT::Architecture=arm64 -o APT::Architectures=arm64
        -o Dir::Etc::SourceList="$work/apt/sources.list" -o Dir::Etc::SourceParts=-
        -o Dir::State::Lists="$work/apt/lists" -o Dir::Cache="$work/apt"
        -o Dir::State::status=/dev/null -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
    note "building the guest in $cache"
    apt-get "${apt[@]}" update >"$work/apt.log" 2>&1 || die "apt-get update failed: $work/apt.log"
    local kernel
    kernel=$(apt-cache "${apt[@]}" depends linux-image-arm64 | awk '/Depends: linux-image-6/ { print $2; exit }')
    [[ -n $kernel ]] || die "no linux-image-arm64 in bookworm"
    # Everything installing PACKAGES on an empty system would bring.
    local closure
    # shellcheck disable=SC2086
    closure=$(apt-get "${apt[@]}" -s install --no-install-recommends $PACKAGES 2>>"$work/apt.log" |
        awk '/^Inst / { print $2 }')
    [[ -n $closure ]] || die "cannot resolve $PACKAGES: $work/apt.log"
    # shellcheck disable=SC2086
    (cd "$work/debs" && apt-get "${apt[@]}" download "$kernel" $closure >>"$work/apt.log" 2>&1) ||
        die "apt-get download failed: $work/apt.log"

    local root=$work/root deb
    for deb in "$work"/debs/*.deb; do
        case $deb in */linux-image-*) dpkg-deb -x "$deb" "$work/kernel" ;; *) dpkg-deb -x "$deb" "$root" ;; esac
    done
    rm -rf "$root"/usr/share/{doc,man,info,locale} "$root"/usr/lib/aarch64-linux-gnu/gconv
    cp "$work"/kernel/boot/vmlinuz-* "$cache/Image.new"   # an uncompressed arm64 Image
    local version m
    version=$(ls "$work/kernel/lib/modules")
    for m in $MODULES; do
        install -D -m 644 "$work/kernel/lib/modules/$version/kernel/$m.ko" "$root/lib/modules/$version/$m.ko"
        echo "$m" >>"$root/lib/modules/$version/order"
    done
    ln -sf dash "$root/bin/sh"   # busybox's sh would run its own applets, not the programs
    ln -sf python3.11 "$root/usr/bin/python3"
    mkdir -p "$root"/{proc,sys,dev,tmp,run,root,sbin,usr/sbin,etc}
    echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
    echo "root:x:0:" >"$root/etc/group"
    guest_init >"$root/init"
    chmod 755 "$root/init"

    # shellcheck disable=SC2086
    python3 -m pip download -q --disable-pip-version-check --only-binary=:all: \
        --python-version 3.11 --implementation py --abi none --platform any \
        -d "$work/wheels" $WHEELS >>"$work/apt.log" 2>&1 || die "pip download failed: $work/apt.log"
    local site=$root/usr/lib/python3/dist-packages
    python3 -c 'import sys, zipfile; [zipfile.ZipFile(w).extractall(sys.argv[1]) for w in sys.argv[2:]]' \
        "$site" "$work"/wheels/*.whl
    # Bytecode made here (the host's 3.11 has the guest's magic number) saves
    # compiling the standard library on every emulated boot.
    if command -v python3.11 >/dev/null; then
        python3.11 -m compileall -q -j0 -x '/tests?/' "$root/usr/lib/python3.11" "$site" >/dev/null || true
    fi
    (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$cache/initrd.new"
    mv "$cache/Image.new" "$cache/Image"
    mv "$cache/initrd.new" "$cache/initrd"
    rm -rf "$work"
    sha256sum <"$script" >"$cache/ready"
}

host_packages
exec 9>"$cache/lock"
flock 9
# ready: the hash of the script that built the guest (of its text, not of
# a path, which may since hold another version or be gone).
if [[ "$(sha256sum <"$script")" != "$(cat "$cache/ready" 2>/dev/null)" ]]; then
    build
fi
run=$(mktemp -d "$cache/run.XXXXXX")
trap 'rm -rf "$run"' EXIT
echo "$checkout" >"$run/checkout"
printf '%s\n' "$command" >"$run/command"
flock -u 9

# -cpu max with the implementation-defined pointer-authentication algorithm:
# max's default (QARMA5) is slow to emulate (boot in 15 s instead of 3 s).
# The command's output reaches this script's stdout through the serial port.
timeout -k 10 "${PYSYSCALL_ARM64_TIMEOUT:-3600}" qemu-system-aarch64 \
    -M virt -cpu max,pauth-impdef=on -smp 2 -m 2048 \
    -nodefaults -no-user-config -display none -no-reboot \
    -kernel "$cache/Image" -initrd "$cache/initrd" \
    -append "console=ttyAMA0 rdinit=/init quiet loglevel=3 panic=-1" \
    -serial stdio \
    -fsdev "local,id=control,path=$run,security_model=none" -device virtio-9p-pci,fsdev=control,mount_tag=control \
    -fsdev "local,id=checkout,path=$checkout,security_model=none" -device virtio-9p-pci,fsdev=checkout,mount_tag=checkout \
    -device virtio-rng-pci -nic user,model=virtio-net-pci,restrict=on </dev/null || true
[[ -f $run/status ]] || die "the guest reported no exit status"
exit "$(cat "$run/status")"
