#!/bin/bash
# Prepare every guest image skiff's tests and quick start use, in
# $SKIFF_CACHE (default /var/cache/skiff):
#   1. the small kernel           build-small-kernel.sh   (~7 min the first time)
#   2. the Debian cloud kernel    fetch-debian-kernel.sh  (a 27 MB download)
#   3. the initramfs archives     build-initramfs.sh
# Each step is cached, so running this again is quick.
#
#   setup.sh [--no-debian] [--no-small-kernel]
#       --no-debian        skip the Debian kernel and initramfs-debian.cpio
#       --no-small-kernel  skip the small kernel build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${SKIFF_CACHE:-/var/cache/skiff}
export SKIFF_CACHE=$cache

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit "${1:-0}"; }
debian=1 small=1
while [ $# -gt 0 ]; do
	case $1 in
	--no-debian) debian=''; shift ;;
	--no-small-kernel) small=''; shift ;;
	-h|--help) usage ;;
	*) echo "setup: unknown argument '$1'" >&2; usage 2 ;;
	esac
done

mkdir -p "$cache" || { echo "setup: cannot create $cache (run as root, or set SKIFF_CACHE)" >&2; exit 1; }
# One setup at a time: two would build the same kernel tree together.
exec 9> "$cache/.setup.lock"
flock -n 9 || { echo "setup: waiting for another setup.sh to finish"; flock 9; }

[ -z "$small" ] || "$here/build-small-kernel.sh"
[ -z "$debian" ] || "$here/fetch-debian-kernel.sh"
if [ -n "$debian" ]; then
	"$here/build-initramfs.sh"
else
	"$here/build-initramfs.sh" --output "$cache/initramfs.cpio"
	"$here/build-initramfs.sh" --sg3-utils --output "$cache/initramfs-sg.cpio"
fi

show() { # show WHAT FILE
	if [ -e "$2" ]; then
		printf '  %-28s %s (%s)\n' "$1" "$2" "$(du -hL --apparent-size "$2" | cut -f1)"
	else
		printf '  %-28s %s\n' "$1" "(not built)"
	fi
}
echo
echo "setup: guest images in $cache:"
show "small kernel (ELF)" "$cache/small/vmlinux"
show "small kernel (bzImage)" "$cache/small/bzImage"
show "initramfs (no modules)" "$cache/initramfs.cpio"
if [ -n "$debian" ]; then
	show "Debian kernel (ELF)" "$cache/debian/vmlinux"
	show "Debian kernel (bzImage)" "$cache/debian/vmlinuz"
	show "initramfs (Debian modules)" "$cache/initramfs-debian.cpio"
fi
