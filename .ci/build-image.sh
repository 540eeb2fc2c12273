#!/bin/bash
# Build the Dockerfile's image without a registry or a container engine, and smoke-test it. Run as root from
# the repository, on Debian: .ci/build-image.sh   (CI runs it from .ci/run; ~2-3 minutes)
#
#   1. apt-get install buildah mmdebstrap busybox-static
#   2. the base the Dockerfile names, python:3.11-slim-bookworm, made from Debian (its python3 and pip, the
#      apt/dpkg settings of Debian's slim images), tagged with that name so that --pull=never finds it
#   3. buildah bud --pull=never (chroot isolation, private overlay storage)
#   4. smoke tests: --version, check and run on examples/ as the image's non-root user; a FUSE mount as root;
#      a descriptor mounted by root served by the non-root user with no capability;
#      the runtime `inject --env` copies (install container, then a command wrapped in `injector run`) in an
#      image that has nothing but busybox
#
# Env: WORK (default /tmp/injector-image: storage, base rootfs), IMAGE (default localhost/injector:ci).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${WORK:-/tmp/injector-image}
IMAGE=${IMAGE:-localhost/injector:ci}
BASE=docker.io/library/python:3.11-slim-bookworm
MIRROR=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
mkdir -p "$WORK"
STARTED=$(date +%s)
step() { echo "== $(( $(date +%s) - STARTED ))s: $*"; }

step "tools"
if ! command -v buildah >/dev/null || ! command -v mmdebstrap >/dev/null || ! command -v busybox >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah mmdebstrap busybox-static \
        >/dev/null 2>&1
fi

# Private storage: nothing in /var/lib/containers is touched, and a rerun starts clean.
export CONTAINERS_STORAGE_CONF=$WORK/storage.conf BUILDAH_ISOLATION=chroot
printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' "$WORK" "$WORK" > "$CONTAINERS_STORAGE_CONF"
buildah rm --all >/dev/null 2>&1 || true

step "base image $BASE (Debian bookworm's python3)"
# What the official image has that the build relies on: pip and venv, pip allowed to install (no PEP 668
# marker), `python`. Debian's slim-image settings keep apt caches, translations and docs out of layers. The
# host's extra CA certificates (a TLS-inspecting proxy) are trusted inside too, for pip.
rootfs=$WORK/rootfs.tar
rm -f "$rootfs"
mkdir -p /dev/shm/injector-mmdebstrap
TMPDIR=/dev/shm/injector-mmdebstrap mmdebstrap --quiet --variant=apt \
    --include=python3,python3-pip,python3-venv,ca-certificates \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt=force-unsafe-io \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/" 2>/dev/null || true' \
    --customize-hook='chroot "$1" update-ca-certificates >/dev/null' \
    --customize-hook='rm -f "$1"/usr/lib/python3.*/EXTERNALLY-MANAGED' \
    --customize-hook='ln -sf python3 "$1/usr/bin/python"' \
    --customize-hook='printf "%s\n" "DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true\"; };" "APT::Update::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true\"; };" "Dir::Cache::pkgcache \"\";" "Dir::Cache::srcpkgcache \"\";" > "$1/etc/apt/apt.conf.d/docker-clean"' \
    --customize-hook='echo "Acquire::Languages \"none\";" > "$1/etc/apt/apt.conf.d/docker-no-languages"' \
    --customize-hook='printf "%s\n" "path-exclude /usr/share/doc/*" "path-include /usr/share/doc/*/copyright" "path-exclude /usr/share/man/*" "path-exclude /usr/share/locale/*" "path-exclude /usr/share/info/*" > "$1/etc/dpkg/dpkg.cfg.d/docker"' \
    --customize-hook='rm -f "$1"/var/cache/apt/*.bin' \
    bookworm "$rootfs" \
    "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb ${MIRROR%/debian}/debian-security bookworm-security main" \
    >"$WORK/mmdebstrap.log" 2>&1 || { tail -40 "$WORK/mmdebstrap.log"; exit 1; }
rm -rf /dev/shm/injector-mmdebstrap
buildah rmi --all --force >/dev/null 2>&1 || true
ctr=$(buildah from scratch)
buildah add --quiet "$ctr" "$rootfs" /
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 --cmd python3 "$ctr"
buildah commit --quiet --rm "$ctr" "$BASE" >/dev/null
rm -f "$rootfs"

step "buildah bud (the Dockerfile)"
# Debian's python3 has no Python.h, which the official image ships: the build stage installs python3-dev.
buildah bud --quiet --pull=never --isolation chroot --layers=false --jobs 2 \
    --build-arg BUILD_EXTRA_PACKAGES=python3-dev -f Dockerfile -t "$IMAGE" . >/dev/null
buildah images "$IMAGE"

step "smoke tests"
ctr=$(buildah from --pull=never "$IMAGE")
runtime=$WORK/runtime
cleanup() {
    buildah rm --all >/dev/null 2>&1 || true
    rm -rf "$runtime"
}
trap cleanup EXIT
ex="-v $REPO/examples:/ex:ro"
# `buildah run` runs as the image's USER but does not use its ENTRYPOINT: the command is spelled out.
test "$(buildah run "$ctr" -- id -u)" = 65532
buildah run "$ctr" -- injector --version
buildah run $ex "$ctr" -- injector check --pod /ex/pod.yaml --secrets /ex/secrets
buildah run $ex "$ctr" -- injector run --mask --pod /ex/pod.yaml --secrets /ex/secrets -- sh -c 'echo "DB_password=$DB_password"' \
    | grep -qx 'DB_password=<redacted:DB_password>'
echo "check and run as $(buildah run "$ctr" -- id -un): ok"
# FUSE as root: chroot isolation shares the host's /dev (so /dev/fuse); mounting needs CAP_SYS_ADMIN.
buildah run --user 0:0 --cap-add CAP_SYS_ADMIN --cap-add CAP_IPC_LOCK $ex "$ctr" -- sh -ec '
    mkdir -p /mnt/injector
    injector mount --allow-other --pod /ex/pod.yaml --secrets /ex/secrets /mnt/injector & pid=$!
    for i in $(seq 200); do [ -e /mnt/injector/secret/password ] && break; kill -0 $pid; sleep 0.05; done
    test "$(cat /mnt/injector/secret/password)" = correct-horse-battery-staple
    kill -TERM $pid; wait $pid
    ! grep -q " /mnt/injector " /proc/mounts
    echo "FUSE mount as root: served, unmounted on SIGTERM"'
# No privilege (inject --fuse csi): root opens /dev/fuse and mounts it with fd=3, as a FUSE CSI driver does; the
# image's user, with every capability dropped, serves that descriptor and stops on SIGTERM.
buildah run --user 0:0 --cap-add CAP_SYS_ADMIN $ex "$ctr" -- sh -ec '
    mkdir -p /mnt/fd
    exec 3<>/dev/fuse
    mount -i -t fuse.injector -o fd=3,rootmode=40000,user_id=65532,group_id=65532,allow_other,default_permissions \
        injector /mnt/fd
    setpriv --reuid 65532 --regid 65532 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs \
        injector mount --pod /ex/pod.yaml --secrets /ex/secrets /dev/fd/3 & pid=$!
    exec 3>&-
    for i in $(seq 200); do [ -e /mnt/fd/secret/password ] && break; kill -0 $pid; sleep 0.05; done
    test "$(cat /mnt/fd/secret/password)" = correct-horse-battery-staple
    test "$(grep CapEff /proc/$pid/status)" = "CapEff:	0000000000000000"
    kill -TERM $pid; wait $pid
    umount -l /mnt/fd
    echo "a descriptor mounted by root, served by uid 65532 with no capability: ok"'
# inject --env: the install container copies the runtime (as the image's user), then a command is wrapped in
# `injector run` in an image with no Python and no C library: busybox alone.
rm -rf "$runtime" && mkdir -p "$runtime" && chown 65532:65532 "$runtime"
buildah run -v "$runtime:/runtime" "$ctr" -- cp -a /opt/injector/. /runtime/
bare=$(buildah from scratch)
buildah copy --quiet "$bare" "$(command -v busybox)" /bin/busybox
buildah run --user 1000:1000 -v "$runtime:/opt/injector:ro" $ex "$bare" -- \
    /opt/injector/bin/injector run --pod /ex/pod.yaml --secrets /ex/secrets -- /bin/busybox env \
    | grep -qx 'DB_password=correct-horse-battery-staple'
echo "the copied runtime in a busybox-only image, as uid 1000: ok ($(du -sh "$runtime" | cut -f1))"
step "done"
