#!/bin/bash
# virtio-blk under the small kernel's built-in virtio_blk, in one boot:
# five disks on five transports, each proving something:
#   fs-pci     transitional PCI (modern driver), ext4, discard=on: the
#              guest deletes a 16 MiB file and runs fstrim, the host sees
#              the image's blocks freed (du)
#   fs-legacy  legacy-only PCI, ext4, cache=none (O_DIRECT)
#   fs-mmio    virtio-mmio v2, ext4, two queues offered (MQ; one vCPU, so
#              Linux uses one: small-smp.sh sees two), write-zeroes=on
#   crash-src  virtio-mmio v1, readonly=on: the guest's writes fail and
#              the image's checksum is unchanged
#   crash-dst  modern-only PCI, two queues: crash safety. The guest copies
#              4 MiB generation after generation from crash-src with
#              O_DIRECT and fsync and prints a marker after each; the test
#              SIGKILLs skiff at a random marker between 20 and 24 and
#              compares every generation the guest saw flushed (20 or more).
#   fs-snap    modern-only PCI, ext4, snapshot=on, discard=on: the guest
#              writes files, deletes one and runs fstrim, all into the
#              copy-on-write overlay; the image's checksum is unchanged.
# On each ext4 disk the guest checks a file of known SHA-256, writes a new
# one, syncs and unmounts; the host reads it back with debugfs and runs
# e2fsck -fn. While the guest runs, a second skiff asking for a disk of the
# first must be refused (exit status 2) with the first one's pid named.
# The bad-input cases need no boot and run first.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
require_file "$INITRAMFS"
command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null || skip_or_fail "e2fsprogs missing"

work=$(mktemp -d "$LOG_DIR/small-blk.XXXXXX")
trap 'rm -rf "$work"' EXIT
generations=24
kill_at=$((20 + RANDOM % (generations - 19)))

# ---- bad input: one line, exit status 2, before any guest (lib.sh) ----
mkdir "$work/a-directory"
bad_input "missing image" "cannot open $work/missing.img: No such file or directory" --device "blk,path=$work/missing.img"
bad_input "--disk missing image" "cannot open $work/missing.img" --disk "$work/missing.img"
bad_input "directory" "is a directory, not a disk image" --device "blk,path=$work/a-directory"
bad_input "no path" "path=FILE is required" --device blk,serial=x
bad_input "queues=0" "queues '0' must be a number from 1 to 16" --device "blk,path=$work/a-directory,queues=0"
bad_input "unknown key" "unknown key 'size' for blk" --device "blk,path=$work/x.img,size=1G"
bad_input "bad cache mode" "cache 'directsync' must be writeback, none or unsafe" --device "blk,path=$work/x.img,cache=directsync"
truncate -s 1M "$work/tiny.img"
bad_input "snapshot with cache=none" "snapshot=on cannot use cache=none" --device "blk,path=$work/tiny.img,snapshot=on,cache=none"
bad_input "serial too long" "longer than 20 bytes" --device "blk,path=$work/x.img,serial=123456789012345678901"

# ---- the images ----
blk_make_fs "$work/fs-pci.img" 48 16;  sha_pci=$blk_hello_sha
blk_make_fs "$work/fs-legacy.img" 32;  sha_legacy=$blk_hello_sha
blk_make_fs "$work/fs-mmio.img" 32;    sha_mmio=$blk_hello_sha
blk_make_fs "$work/fs-snap.img" 32 8;  sha_snap=$blk_hello_sha
snap_image_sha=$(sha256sum "$work/fs-snap.img" | cut -d' ' -f1)
# crash-src: a random 4 MiB pattern per generation (slot N at N * 4 MiB).
head -c $(((generations + 1) * 4))M /dev/urandom > "$work/src.img"
truncate -s $(((generations + 1) * 4))M "$work/dst.img"
src_sha=$(sha256sum "$work/src.img" | cut -d' ' -f1)
du_before=$(blk_du_kib "$work/fs-pci.img")

# ---- the boot, killed at marker $kill_at ----
log=$LOG_DIR/$test_name-disks.log
start=$(date +%s.%N)
"$SKIFF" run --kernel "$SMALL_KERNEL" --initrd "$INITRAMFS" --cpus 1 \
	--cmdline "skiff.test=virtio,blk,blkcrash:$generations" \
	--device "blk,path=$work/fs-pci.img,serial=fs-pci,transport=pci,discard=on" \
	--device "blk,path=$work/fs-legacy.img,serial=fs-legacy,transport=pci-legacy,cache=none" \
	--device "blk,path=$work/fs-mmio.img,serial=fs-mmio,transport=mmio,queues=2,write-zeroes=on" \
	--device "blk,path=$work/src.img,serial=crash-src,transport=mmio-legacy,readonly=on" \
	--device "blk,path=$work/dst.img,serial=crash-dst,transport=pci-modern,queues=2" \
	--device "blk,path=$work/fs-snap.img,serial=fs-snap,transport=pci-modern,snapshot=on,discard=on" \
	</dev/null >"$log" 2>&1 &
skiff_pid=$!

# The lock, while the first skiff holds its images.
sleep 2
out=$("$SKIFF" run --kernel "$SMALL_KERNEL" --disk "$work/fs-legacy.img" </dev/null 2>&1)
st=$?
check "second skiff on a disk in use: exit status 2" test "$st" = 2
check "second skiff names the first one's pid" grep -q "in use by another process (pid $skiff_pid)" <<<"$out"
out=$("$SKIFF" run --kernel "$SMALL_KERNEL" --device "blk,path=$work/src.img,readonly=on" --device "blk,path=$work/fs-pci.img" </dev/null 2>&1)
check "a second reader shares the read-only image; the writable one is refused" grep -q "fs-pci.img is in use by another process (pid $skiff_pid)" <<<"$out"

# Wait for the marker (or the end), then SIGKILL.
killed=no
deadline=$(( $(date +%s) + 900 ))
while kill -0 "$skiff_pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
	if grep -a -q "skiff-guest: blkcrash generation $kill_at flushed" "$log"; then
		kill -KILL "$skiff_pid"
		killed=yes
		break
	fi
	sleep 0.1
done
[ "$killed" = yes ] || kill -KILL "$skiff_pid" 2>/dev/null
wait "$skiff_pid"
status=$?
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
printf '%s: disks: SIGKILL at generation %s: %s, exit status %s after %.1f s (log: %s)\n' \
	"$test_name" "$kill_at" "$killed" "$status" "$elapsed" "$log"
grep -a 'skiff-guest: init reached\|skiff-check:\|skiff-guest: blk ' "$log" | tr -d '\r' | sed 's/^/  | /'

check "killed with SIGKILL at the marker of generation $kill_at" test "$killed" = yes -a "$status" = 137
expect_checks virtio blk
check "fs-pci on transitional PCI (00:01.0), modern" device_is virtio_blk modern '.*/0000:00:01.0'
check "fs-legacy on legacy PCI (00:02.0), legacy" device_is virtio_blk legacy '.*/0000:00:02.0'
check "crash-dst on modern PCI (00:03.0), modern" device_is virtio_blk modern '.*/0000:00:03.0'
check "fs-mmio on virtio-mmio v2, modern" device_is virtio_blk modern '.*/LNRO0005:00'
check "crash-src on virtio-mmio v1, legacy" device_is virtio_blk legacy '.*/LNRO0005:01'

disk_check_fs blk "$work/fs-pci.img" fs-pci "$sha_pci"
disk_check_fs blk "$work/fs-legacy.img" fs-legacy "$sha_legacy"
disk_check_fs blk "$work/fs-mmio.img" fs-mmio "$sha_mmio"

du_after=$(blk_du_kib "$work/fs-pci.img")
echo "  fs-pci.img holds $du_before KiB before, $du_after KiB after (big.bin: 16384 KiB)"
check "fstrim ran in the guest" log_has 'skiff-guest: blk fs-pci fstrim: .*trimmed'
check "discard freed the deleted file's host blocks (at least 12 MiB)" test $((du_before - du_after)) -ge 12288
check "debugfs: big.bin is gone" sh -c "! debugfs -R 'stat /big.bin' '$work/fs-pci.img' 2>&1 | grep -q 'Inode:'"

check "fs-snap: guest read hello.bin through the overlay" log_has "skiff-guest: blk fs-snap (vd[a-z]*) hello.bin sha256 $sha_snap"
check "fs-snap: guest wrote, trimmed and unmounted" log_has 'skiff-guest: blk fs-snap written and unmounted'
check "fs-snap: fstrim ran on the overlay" log_has 'skiff-guest: blk fs-snap fstrim: .*trimmed'
check "snapshot=on: the base image is unchanged byte for byte" test "$(sha256sum "$work/fs-snap.img" | cut -d' ' -f1)" = "$snap_image_sha"
check "snapshot=on: no overlay file left in TMPDIR" sh -c "! ls '${TMPDIR:-/tmp}' | grep -q skiff-snapshot"
check "read-only disk: guest write refused" log_has 'skiff-guest: blk crash-src (vd[a-z]*) read-only: write refused'
check "read-only disk: image unchanged" test "$(sha256sum "$work/src.img" | cut -d' ' -f1)" = "$src_sha"

flushed=$(grep -a -c 'skiff-guest: blkcrash generation [0-9]* flushed' "$log")
bad_gens=
for ((g = 1; g <= flushed; g++)); do
	cmp -s <(dd if="$work/src.img" bs=4M skip="$g" count=1 2>/dev/null) \
		<(dd if="$work/dst.img" bs=4M skip="$g" count=1 2>/dev/null) || bad_gens="$bad_gens $g"
done
check "crash: $flushed generations flushed before the kill (>= 20)" test "$flushed" -ge 20
check "crash: every flushed generation is on the host's disk${bad_gens:+ (wrong:$bad_gens)}" test -z "$bad_gens"
finish
