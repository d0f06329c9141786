#!/bin/bash
# Fetch Debian 12's cloud kernel (the package linux-image-cloud-amd64 depends
# on) and prepare it for skiff, in $SKIFF_CACHE/debian (default
# /var/cache/skiff/debian):
#   vmlinuz   the bzImage as Debian ships it
#   vmlinux   the uncompressed ELF kernel unpacked from the bzImage: under a
#             software KVM, decompressing a bzImage in the guest costs ~37 s
#   config    the kernel's .config
#   modules   -> root/lib/modules/VERSION, with modules.dep (for
#             build-initramfs.sh, which makes initramfs-debian.cpio)
#   root/     the unpacked package
#
#   fetch-debian-kernel.sh [--package NAME] [--out DIR] [--update]
#       --package  another linux-image package, or a metapackage such as
#                  linux-image-amd64 (default: linux-image-cloud-amd64)
#       --out      where to put it (default: $SKIFF_CACHE/debian)
#       --update   look the package up again even when a kernel is cached
#   fetch-debian-kernel.sh --unpack BZIMAGE VMLINUX
#       only unpack the ELF kernel from any bzImage (gzip, xz, zstd, lz4,
#       bzip2, lzma or lzo payload)
# Idempotent: does nothing when the kernel is cached.
set -euo pipefail
cache=${SKIFF_CACHE:-/var/cache/skiff}
out=$cache/debian

say() { echo "debian kernel: $*"; }
die() { echo "debian kernel: error: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit "${1:-0}"; }

pkg='' update='' unpack=()
while [ $# -gt 0 ]; do
	case $1 in
	--package) [ $# -ge 2 ] || usage 2; pkg=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || usage 2; out=$2; shift 2 ;;
	--update) update=1; shift ;;
	--unpack) [ $# -ge 3 ] || usage 2; unpack=("$2" "$3"); shift 3 ;;
	-h|--help) usage ;;
	*) echo "debian kernel: unknown argument '$1'" >&2; usage 2 ;;
	esac
done

if [ -z "$update" ] && [ ${#unpack[@]} -eq 0 ] && [ -f "$out/stamp" ] && [ -f "$out/vmlinux" ] && [ -f "$out/vmlinuz" ] &&
	[ -f "$out/modules/modules.dep" ] && { [ -z "$pkg" ] || awk -v p="$pkg" '$1 == p || $3 == p { f = 1 } END { exit !f }' "$out/stamp"; }; then
	say "cached in $out ($(cat "$out/stamp"))"
	exit 0
fi

# Installs a missing tool when we are root, else names the package to install.
need() { # need COMMAND PACKAGE
	command -v "$1" >/dev/null && return 0
	if [ "$(id -u)" = 0 ]; then
		say "installing $2 (for $1)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >/dev/null ||
			die "apt-get install $2 failed"
	fi
	command -v "$1" >/dev/null || die "$1 missing (apt-get install $2)"
}
u() { echo $(( $(od -An -tu"$3" -j"$2" -N"$3" "$1") )); } # u FILE OFFSET SIZE: LE integer

# unpack_vmlinux BZIMAGE VMLINUX: write the ELF kernel inside BZIMAGE to VMLINUX.
# Boot protocol (Documentation/x86/boot.rst): setup_sects at 0x1f1 (0 means
# 4), "HdrS" at 0x202, version at 0x206; from 2.08 payload_offset at 0x248 and
# payload_length at 0x24c, the offset counted from the protected-mode code,
# which starts at (setup_sects + 1) * 512.
unpack_vmlinux() {
	local bz=$1 proto setup_sects payload_offset payload_length size magic fmt cmd got end phoff ph seg_end i
	vmlinux=$2 payload=$2.payload.tmp # global: the EXIT trap removes the temporary files
	[ "$(od -An -c -j514 -N4 "$bz" | tr -d ' ')" = HdrS ] || die "$bz is not a bzImage (no HdrS)"
	proto=$(u "$bz" 518 2)
	[ "$proto" -ge $((0x208)) ] || die "$bz: boot protocol $(printf %x "$proto") has no payload fields (needs 2.08)"
	setup_sects=$(u "$bz" 497 1)
	[ "$setup_sects" -ne 0 ] || setup_sects=4
	payload_offset=$(( (setup_sects + 1) * 512 + $(u "$bz" 584 4) ))
	payload_length=$(u "$bz" 588 4)
	[ $((payload_offset + payload_length)) -le "$(stat -c %s "$bz")" ] || die "$bz: payload runs past the end of the file"
	trap 'rm -f "$payload" "$vmlinux.tmp"' EXIT
	dd if="$bz" of="$payload" bs=64K iflag=skip_bytes,count_bytes skip="$payload_offset" count="$payload_length" status=none
	# The kernel build appends the uncompressed size (4 bytes LE) to every format
	# but gzip, whose own trailer ends with it: a check of the result either way.
	size=$(u "$payload" $((payload_length - 4)) 4)
	magic=$(od -An -tx1 -N6 "$payload" | tr -d ' \n')
	case $magic in
	1f8b*)         fmt=gzip;  need gzip gzip;     cmd=(gzip -dc) ;;
	fd377a585a00)  fmt=xz;    need xz xz-utils;   cmd=(xz -dc --single-stream) ;;
	28b52ffd*)     fmt=zstd;  need zstd zstd;     cmd=(zstd -qdc) ;;
	02214c18*)     fmt=lz4;   need lz4 lz4;       cmd=(lz4 -dc) ;;
	425a68*)       fmt=bzip2; need bzip2 bzip2;   cmd=(bzip2 -dc) ;;
	5d0000*)       fmt=lzma;  need xz xz-utils;   cmd=(xz -dc --format=lzma) ;;
	894c5a4f*)     fmt=lzo;   need lzop lzop;     cmd=(lzop -dc) ;;
	*) die "$bz: unknown payload compression (magic $magic); known: gzip xz zstd lz4 bzip2 lzma lzo" ;;
	esac
	say "unpacking $(basename "$vmlinux") ($fmt payload, $payload_length bytes at offset $payload_offset)"
	if [ "$fmt" != gzip ]; then truncate -s -4 "$payload"; fi
	# Tools may complain about what follows their stream; the checks below decide.
	"${cmd[@]}" < "$payload" > "$vmlinux.tmp" 2>/dev/null || true
	got=$(stat -c %s "$vmlinux.tmp")
	[ "$got" -eq "$size" ] || die "$fmt decompression gave $got bytes, the bzImage says $size"
	[ "$(od -An -c -N4 "$vmlinux.tmp" | tr -d ' ')" = 177ELF ] || die "the unpacked payload is not an ELF file"
	[ "$(u "$vmlinux.tmp" 4 1)" = 2 ] || die "the unpacked kernel is not a 64-bit ELF"
	# The payload is the ELF kernel followed by its relocation table (for KASLR):
	# cut after the last of the section header table and the loadable segments.
	end=$(( $(u "$vmlinux.tmp" 40 8) + $(u "$vmlinux.tmp" 58 2) * $(u "$vmlinux.tmp" 60 2) ))
	phoff=$(u "$vmlinux.tmp" 32 8)
	for ((i = 0; i < $(u "$vmlinux.tmp" 56 2); i++)); do
		ph=$((phoff + i * $(u "$vmlinux.tmp" 54 2)))
		seg_end=$(( $(u "$vmlinux.tmp" $((ph + 8)) 8) + $(u "$vmlinux.tmp" $((ph + 32)) 8) ))
		[ "$seg_end" -le "$end" ] || end=$seg_end
	done
	[ "$end" -le "$got" ] || die "the unpacked ELF claims $end bytes, only $got were unpacked"
	truncate -s "$end" "$vmlinux.tmp"
	mv "$vmlinux.tmp" "$vmlinux"
	rm -f "$payload"
	say "$vmlinux: $(du -h --apparent-size "$vmlinux" | cut -f1) ELF, from $(du -h "$bz" | cut -f1) $bz"
}

if [ ${#unpack[@]} -gt 0 ]; then
	unpack_vmlinux "${unpack[@]}"
	exit 0
fi

need apt-get apt
need dpkg-deb dpkg
need depmod kmod
export PATH=$PATH:/usr/sbin:/sbin # depmod lives in /usr/sbin

# --- Download and unpack --------------------------------------------------------
# A metapackage (linux-image-cloud-amd64, linux-image-amd64) names the
# versioned package that holds the kernel.
meta=${pkg:-linux-image-cloud-amd64}
if [[ $meta != linux-image-[0-9]* ]]; then
	pkg=$(apt-cache depends "$meta" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	[ -n "$pkg" ] || die "cannot resolve $meta (needs Debian 12 amd64 apt sources; run apt-get update)"
fi
version=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | awk '$1 == "Version:" { print $2; exit }')
[ -n "$version" ] || die "package $pkg not known to apt (run apt-get update)"
mkdir -p "$out"
deb=$out/${pkg}_${version//:/%3a}_amd64.deb
if [ ! -f "$deb" ]; then
	say "downloading $pkg $version"
	start=$(date +%s)
	# As root apt would warn that its _apt user cannot write here: say it may.
	(cd "$out" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$version" >/dev/null) ||
		die "apt-get download $pkg=$version failed"
	[ -f "$deb" ] || die "apt-get download did not produce $deb"
	say "downloaded $(du -h "$deb" | cut -f1) in $(( $(date +%s) - start )) s"
fi
say "unpacking $(basename "$deb")"
rm -rf "$out/root"
dpkg-deb -x "$deb" "$out/root"
kver=${pkg#linux-image-}
kver=${kver%-unsigned}
[ -f "$out/root/boot/vmlinuz-$kver" ] || die "$deb has no boot/vmlinuz-$kver"
moddir=$(find "$out/root" -maxdepth 4 -type d -path "*/lib/modules/$kver" | head -n1)
[ -n "$moddir" ] || die "$deb has no lib/modules/$kver"
cp "$out/root/boot/vmlinuz-$kver" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
cp "$out/root/boot/config-$kver" "$out/config" 2>/dev/null || true
# The package ships no modules.dep (its postinst runs depmod): make one.
say "running depmod for $kver"
depmod -b "${moddir%/lib/modules/"$kver"}" "$kver"
ln -sfn "${moddir#"$out"/}" "$out/modules"

unpack_vmlinux "$out/vmlinuz" "$out/vmlinux"
# The stamp: package, version and the name asked for (for the cache test).
echo "$pkg $version $meta" > "$out/stamp"

say "ready in $out: vmlinux ($(du -h --apparent-size "$out/vmlinux" | cut -f1)), vmlinuz ($(du -h "$out/vmlinuz" | cut -f1)), modules -> $(readlink "$out/modules")"
