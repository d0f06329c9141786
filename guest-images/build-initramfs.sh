#!/bin/bash
# Build skiff's guest initramfs: an UNCOMPRESSED newc cpio (gunzip alone costs
# ~24 s in an emulated guest) holding busybox-static with a symlink per applet,
# /dev/console, and guest-images/initramfs/init.
#
#   build-initramfs.sh
#       $SKIFF_CACHE/initramfs.cpio (no modules, for the small kernel), and
#       $SKIFF_CACHE/initramfs-debian.cpio when fetch-debian-kernel.sh has
#       provided $SKIFF_CACHE/debian/modules.
#   build-initramfs.sh --modules DIR [--kver VERSION] [--output FILE]
#       one archive with the virtio/pvpanic modules (and their dependencies)
#       of the kernel whose modules are in DIR: lib/modules/VERSION itself,
#       lib/modules, or a root holding lib/modules. Default output:
#       $SKIFF_CACHE/initramfs-debian.cpio.
#   build-initramfs.sh --output FILE     one archive without modules.
#   build-initramfs.sh --sg3-utils [--output FILE]
#       also sg_inq, sg_vpd, sg_readcap and sg_luns (from the host's
#       sg3-utils) with the shared libraries they load (libsgutils2, glibc,
#       the dynamic loader: ~2.6 MiB), for the scsi guest check. Default
#       output: $SKIFF_CACHE/initramfs-sg.cpio. A separate archive: the
#       other boots do not pay for unpacking it.
#
# Idempotent: an archive is rebuilt only when its inputs change.
# Environment: SKIFF_CACHE (default /var/cache/skiff), BUSYBOX (default /bin/busybox).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${SKIFF_CACHE:-/var/cache/skiff}
busybox=${BUSYBOX:-/bin/busybox}
init=$here/initramfs/init
checks=$here/initramfs/checks
canary_src=$here/xstate-canary/canary.c
sg_tools="sg_inq sg_vpd sg_readcap sg_luns"
mem_helper_src=$here/mem-helper/mem-helper.c
net_stream_src=$here/net-stream/net-stream.c

# Modules the Debian cloud kernel needs for skiff's devices; dependencies
# are added from modules.dep. Names match with '-' and '_' treated alike.
wanted_modules="virtio virtio_ring virtio_pci virtio_pci_legacy_dev
	virtio_pci_modern_dev virtio_mmio virtio_net net_failover failover
	virtio_blk virtio_scsi scsi_mod sd_mod virtio_console virtio-rng
	virtio_balloon pvpanic pvpanic-mmio"

say() { echo "initramfs: $*"; }
die() { echo "initramfs: error: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit "${1:-0}"; }

modules='' kver='' output='' sg=''
while [ $# -gt 0 ]; do
	case $1 in
	--sg3-utils) sg=yes; shift ;;
	--modules) [ $# -ge 2 ] || usage 2; modules=$2; shift 2 ;;
	--kver) [ $# -ge 2 ] || usage 2; kver=$2; shift 2 ;;
	-o|--output) [ $# -ge 2 ] || usage 2; output=$2; shift 2 ;;
	-h|--help) usage ;;
	*) echo "initramfs: unknown argument '$1'" >&2; usage 2 ;;
	esac
done

# No arguments: build every archive that can be built, each by a recursive call.
if [ -z "$modules$output$sg" ]; then
	"$0" --output "$cache/initramfs.cpio"
	"$0" --sg3-utils --output "$cache/initramfs-sg.cpio"
	if [ -d "$cache/debian/modules" ]; then
		"$0" --modules "$cache/debian/modules" --output "$cache/initramfs-debian.cpio"
	else
		say "no Debian kernel modules in $cache/debian/modules (run fetch-debian-kernel.sh): initramfs-debian.cpio not built"
	fi
	exit 0
fi
if [ -z "$output" ]; then
	if [ -n "$sg" ] && [ -z "$modules" ]; then output=$cache/initramfs-sg.cpio; else output=$cache/initramfs-debian.cpio; fi
fi
sg_paths=()
if [ -n "$sg" ]; then
	for tool in $sg_tools; do
		[ -x "/usr/bin/$tool" ] || die "/usr/bin/$tool missing (apt-get install sg3-utils)"
		sg_paths+=("/usr/bin/$tool")
	done
fi

# Tools and inputs, with the Debian package that provides each.
[ -x "$busybox" ] || die "$busybox missing (apt-get install busybox-static)"
# The guest has no libc: busybox must be static (no PT_INTERP program header).
u() { echo $(( $(od -An -tu"$3" -j"$2" -N"$3" "$1") )); } # u FILE OFFSET SIZE: LE integer
[ "$(od -An -c -N4 "$busybox" | tr -d ' ')" = 177ELF ] || die "$busybox is not an ELF file"
for ((i = 0; i < $(u "$busybox" 56 2); i++)); do
	if [ "$(u "$busybox" $(( $(u "$busybox" 32 8) + i * $(u "$busybox" 54 2) )) 4)" = 3 ]; then
		die "$busybox is dynamically linked (apt-get install busybox-static)"
	fi
done
command -v cpio >/dev/null || die "cpio missing (apt-get install cpio)"
[ -f "$init" ] || die "$init missing"
if [ "$(id -u)" != 0 ]; then
	# mknod for /dev/console needs root; fakeroot fakes it and cpio records it.
	command -v fakeroot >/dev/null || die "not root: /dev/console needs mknod (run as root, or apt-get install fakeroot)"
	exec fakeroot -- "$0" ${modules:+--modules "$modules"} ${kver:+--kver "$kver"} ${sg:+--sg3-utils} --output "$output"
fi

# --- Module selection (only with --modules) ---------------------------------
load_order=() # module paths relative to the modules dir, dependencies first
if [ -n "$modules" ]; then
	[ -d "$modules" ] || die "modules directory $modules does not exist"
	modules=$(readlink -f "$modules")
	if [ ! -f "$modules/modules.dep" ]; then
		[ -d "$modules/lib/modules" ] && modules=$modules/lib/modules
		if [ -z "$kver" ]; then
			versions=("$modules"/*/modules.dep)
			if [ ${#versions[@]} -ne 1 ] || [ ! -f "${versions[0]}" ]; then
				die "cannot tell the kernel version under $modules: pass --kver"
			fi
			kver=$(basename "$(dirname "${versions[0]}")")
		fi
		modules=$modules/$kver
	fi
	[ -n "$kver" ] || kver=$(basename "$modules")
	[ -f "$modules/modules.dep" ] ||
		die "$modules/modules.dep missing (run depmod -b ROOT $kver, apt-get install kmod)"

	declare -A path_of=() deps_of=() builtin=() seen=()
	modname() { local n=${1##*/}; n=${n%%.ko*}; echo "${n//-/_}"; }
	while IFS= read -r line; do
		mod=${line%%:*}
		name=$(modname "$mod")
		path_of[$name]=$mod
		deps_of[$name]=${line#*:}
	done < "$modules/modules.dep"
	if [ -f "$modules/modules.builtin" ]; then
		while IFS= read -r mod; do builtin[$(modname "$mod")]=1; done < "$modules/modules.builtin"
	fi
	add_module() { # depth first: dependencies before the module itself
		local name=$1 dep
		[ -z "${seen[$name]:-}" ] || return 0
		seen[$name]=1
		for dep in ${deps_of[$name]}; do add_module "$(modname "$dep")"; done
		load_order+=("${path_of[$name]}")
	}
	missing=() inkernel=()
	for want in $wanted_modules; do
		name=$(modname "$want")
		if [ -n "${path_of[$name]:-}" ]; then
			add_module "$name"
		elif [ -n "${builtin[$name]:-}" ]; then
			inkernel+=("$want")
		else
			missing+=("$want")
		fi
	done
	[ ${#inkernel[@]} -eq 0 ] || say "$kver: built into the kernel: ${inkernel[*]}"
	[ ${#missing[@]} -eq 0 ] || say "$kver: warning: not in this kernel, skipped: ${missing[*]}"
fi

# --- Up to date? --------------------------------------------------------------
stamp=$( {
	sha256sum "$0" "$init" "$busybox" "$checks"/* "$canary_src" "$mem_helper_src" "$net_stream_src" "${sg_paths[@]}" | cut -d' ' -f1
	echo "$kver"
	for ko in "${load_order[@]}"; do echo "$ko"; sha256sum < "$modules/$ko"; done
} | sha256sum | cut -c1-16)
if [ -f "$output" ] && [ "$(cat "$output.stamp" 2>/dev/null)" = "$stamp" ]; then
	say "cached: $output"
	exit 0
fi

# strip_signature KO: drop a module's appended signature. Checking it means
# an RSA verification in guest ring 0, which a software-KVM host emulates
# at about two minutes a module. The layout (scripts/sign-file.c): module,
# signature, struct module_signature (12 bytes, big-endian sig_len in its
# last 4), then the 28-byte marker "~Module signature appended~\n".
strip_signature() {
	local ko=$1 size len
	size=$(stat -c %s "$ko")
	[ "$size" -gt 40 ] && [ "$(tail -c 28 "$ko")" = "~Module signature appended~" ] || return 0
	len=$(od -An -tu1 -j $((size - 32)) -N4 "$ko" | awk '{ print (($1 * 256 + $2) * 256 + $3) * 256 + $4 }')
	[ "$len" -gt 0 ] && [ "$len" -lt $((size - 40)) ] || die "$ko: bad signature length $len"
	truncate -s $((size - 40 - len)) "$ko"
}

# --- Staging tree -------------------------------------------------------------
start=$(date +%s%N)
mkdir -p "$(dirname "$output")"
staging=$(mktemp -d "$(dirname "$output")/.initramfs.XXXXXX")
trap 'rm -rf "$staging"' EXIT
cd "$staging"

mkdir -p bin sbin usr/bin usr/sbin etc root tmp proc sys dev run mnt lib
chmod 1777 tmp
cp "$busybox" bin/busybox
chmod 0755 bin/busybox
# One symlink per applet, where busybox would install it (bin/sh, sbin/poweroff,
# sbin/reboot, usr/bin/setsid, ...): the guest never runs `busybox --install`.
napplets=0
while IFS= read -r applet; do
	if [ "$applet" = bin/busybox ] || [ -e "$applet" ]; then continue; fi
	mkdir -p "$(dirname "$applet")"
	ln -s /bin/busybox "$applet"
	napplets=$((napplets + 1))
done < <("$busybox" --list-full)
for must in bin/sh sbin/init sbin/poweroff sbin/reboot bin/cttyhack usr/bin/setsid sbin/insmod; do
	[ -L "$must" ] || die "$busybox has no applet for $must"
done
install -m 0755 "$init" init
mkdir -p lib/skiff/checks
install -m 0644 "$checks"/*.sh lib/skiff/checks/
# The extended-state canary the xstate check runs: a static program, so the
# guest needs no libc of its own.
${CC:-gcc} -O2 -static -s -o bin/xstate-canary "$canary_src" ||
	die "building $canary_src failed (apt-get install gcc libc6-dev)"
# sg3-utils (dynamic): each program, and every library ldd names, at its host path.
if [ ${#sg_paths[@]} -gt 0 ]; then
	command -v ldd >/dev/null || die "ldd missing (apt-get install libc-bin)"
	for prog in "${sg_paths[@]}"; do
		for file in "$prog" $(ldd "$prog" | grep -o '/[^ ]*'); do
			[ -e ".$file" ] && continue
			mkdir -p ".$(dirname "$file")"
			cp -L "$file" ".$file"
		done
	done
	say "sg3-utils: ${#sg_paths[@]} programs and their libraries, $(du -sck usr/bin/sg_* lib64 lib/x86_64-linux-gnu 2>/dev/null | tail -1 | cut -f1) KiB"
fi
# The balloon check's memory toucher and 100 ms ticker (mem-helper.c).
${CC:-gcc} -O2 -static -s -o bin/mem-helper "$mem_helper_src" ||
	die "building $mem_helper_src failed (apt-get install gcc libc6-dev)"
# The network checks' bulk TCP sender and receiver (net-stream.c).
${CC:-gcc} -O2 -static -s -o bin/net-stream "$net_stream_src" -lmd ||
	die "building $net_stream_src failed (apt-get install gcc libc6-dev libmd-dev)"
mknod -m 0600 dev/console c 5 1
mknod -m 0666 dev/null c 1 3

if [ ${#load_order[@]} -gt 0 ]; then
	dest=lib/modules/$kver
	mkdir -p "$dest"
	: > "$dest/skiff.load"
	for ko in "${load_order[@]}"; do
		out=$ko
		mkdir -p "$dest/$(dirname "$ko")"
		case $ko in # decompress here: the guest would pay for it in emulated ring 0
		*.ko.xz) out=${ko%.xz}; xz -dc "$modules/$ko" > "$dest/$out" ;;
		*.ko.zst) out=${ko%.zst}; command -v zstd >/dev/null || die "zstd missing (apt-get install zstd)"
			zstd -qdc "$modules/$ko" > "$dest/$out" ;;
		*.ko.gz) out=${ko%.gz}; gzip -dc "$modules/$ko" > "$dest/$out" ;;
		*) cp "$modules/$ko" "$dest/$out" ;;
		esac
		strip_signature "$dest/$out"
		echo "$out" >> "$dest/skiff.load"
	done
	# A modules.dep for the modules present, so `modprobe` works at the shell.
	while IFS= read -r line; do
		mod=${line%%:*}
		[ -f "$dest/$mod" ] && echo "$line"
	done < <(sed -E 's/\.ko\.(xz|zst|gz)/.ko/g' "$modules/modules.dep") > "$dest/modules.dep"
	say "$kver: $(wc -l < "$dest/skiff.load") modules, $(du -sk "$dest" | cut -f1) KiB: $(sed 's|.*/||; s|\.ko$||' "$dest/skiff.load" | tr '\n' ' ')"
fi

# --- Archive ------------------------------------------------------------------
# Fixed times and owners, sorted names: the same inputs give the same bytes.
# The essentials come first (a directory always before its contents), so
# `cpio -t < initramfs.cpio | head` shows them.
find . -exec touch -h -d @0 {} +
first=(init bin bin/busybox dev dev/console)
{
	printf "%s\n" "${first[@]}"
	find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort | grep -vxF -f <(printf "%s\n" "${first[@]}")
} | cpio -o -H newc -R 0:0 --reproducible --quiet > "$output.tmp"
mv "$output.tmp" "$output"
echo "$stamp" > "$output.stamp"
say "built $output ($(du -k "$output" | cut -f1) KiB, $napplets applets${kver:+, modules of $kver}) in $(( ($(date +%s%N) - start) / 1000000 )) ms"
