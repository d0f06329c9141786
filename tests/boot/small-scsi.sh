#!/bin/bash
# virtio-scsi under the small kernel's built-in virtio_scsi and sd, in one
# boot with two controllers:
#   virtio-pci (transitional, 00:01.0)
#     target 0 LUN 0  fs-scsi0  ext4 made on the host (mkfs.ext4 -d): the
#                               guest mounts it, checks hello.bin, writes
#                               guest.txt and copy.bin; the host verifies
#                               them (debugfs) and runs e2fsck -fn
#     target 0 LUN 2  ro-scsi1  readonly=on: sd sees the WP bit, a write fails
#   virtio-mmio v2, two request queues
#     target 1 LUN 0  trim-scsi2  discard=on: sd enables discard; the guest's
#                               blkdiscard (UNMAP) frees the image's host blocks
# Every disk must appear as /dev/sdX with its configured size, address
# (H:C:T:L) and serial (VPD 80h). The initramfs is the one with sg3-utils
# (build-initramfs.sh --sg3-utils): the guest runs sg_inq, sg_vpd,
# sg_readcap and sg_luns on fs-scsi0, and their output is compared with
# the configured disk. Bad command lines run
# first and need no boot.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
INITRAMFS_SG=$SKIFF_CACHE/initramfs-sg.cpio
require_file "$INITRAMFS_SG"
command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null || skip_or_fail "e2fsprogs missing"

work=$(mktemp -d "$LOG_DIR/small-scsi.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---- bad input: one line, exit status 2, before any guest ----
truncate -s 1M "$work/a.img" "$work/b.img"
bad_input "missing image" "cannot open $work/missing.img: No such file or directory" --device "scsi,path=$work/missing.img"
bad_input "two disks at one address" "target 0 LUN 1 already holds $work/a.img" \
	--device "scsi,path=$work/a.img,lun=1" --device "scsi,path=$work/b.img,lun=1"
bad_input "lun out of range" "lun '256' must be a number from 0 to 255" --device "scsi,path=$work/a.img,lun=256"
bad_input "target out of range" "target '300' must be a number from 0 to 255" --device "scsi,path=$work/a.img,target=300"
bad_input "disk keys without a path" "add path=FILE" --device "scsi,lun=3"
bad_input "transport on a joining disk" "belong to a controller" \
	--device "scsi,path=$work/a.img" --device "scsi,path=$work/b.img,lun=1,transport=mmio"
bad_input "one image twice (locked)" "in use by another process" \
	--device "scsi,path=$work/a.img" --device "scsi,path=$work/a.img,lun=1"

# ---- the images ----
blk_make_fs "$work/fs.img" 32; sha_fs=$blk_hello_sha
head -c 8M /dev/urandom > "$work/ro.img"
ro_sha=$(sha256sum "$work/ro.img" | cut -d' ' -f1)
head -c 20M /dev/urandom > "$work/mm.img"
du_before=$(blk_du_kib "$work/mm.img")

boot disks 600 --kernel "$SMALL_KERNEL" --initrd "$INITRAMFS_SG" --cpus 1 \
	--cmdline "skiff.test=virtio,scsi:3" \
	--device scsi,transport=pci \
	--device "scsi,path=$work/fs.img,serial=fs-scsi0" \
	--device "scsi,path=$work/ro.img,lun=2,serial=ro-scsi1,readonly=on" \
	--device scsi,transport=mmio,queues=2 \
	--device "scsi,path=$work/mm.img,target=1,serial=trim-scsi2,discard=on"
grep -a 'skiff-guest: scsi' "$log" | tr -d '\r' | sed 's/^/  | /'

check "exit status 0" status_is 0
expect_checks virtio scsi
check "controller 0 on transitional PCI (00:01.0), modern" device_is virtio_scsi modern '.*/0000:00:01.0'
check "controller 1 on virtio-mmio v2, modern" device_is virtio_scsi modern '.*/LNRO0005:00'
check "fs-scsi0: sdX at target 0 LUN 0, 32 MiB" log_has 'skiff-guest: scsi fs-scsi0 (sd[a-z]*) hctl [0-9]*:0:0:0 sectors 65536 discard 0'
check "ro-scsi1: sdX at target 0 LUN 2, 8 MiB" log_has 'skiff-guest: scsi ro-scsi1 (sd[a-z]*) hctl [0-9]*:0:0:2 sectors 16384 discard 0'
check "trim-scsi2: sdX at target 1 LUN 0, 20 MiB, discard on" log_has 'skiff-guest: scsi trim-scsi2 (sd[a-z]*) hctl [0-9]*:0:1:0 sectors 40960 discard [1-9]'
h0=$(grep -a -o 'scsi fs-scsi0 (sd[a-z]*) hctl [0-9]*' "$log" | grep -o '[0-9]*$')
h1=$(grep -a -o 'scsi ro-scsi1 (sd[a-z]*) hctl [0-9]*' "$log" | grep -o '[0-9]*$')
h2=$(grep -a -o 'scsi trim-scsi2 (sd[a-z]*) hctl [0-9]*' "$log" | grep -o '[0-9]*$')
check "LUNs 0 and 2 share a host, target 1 is on the other one" test -n "$h0" -a "$h0" = "$h1" -a "$h2" != "$h0"
check "sd reads the write cache setting (MODE SENSE caching page)" log_has 'sd [0-9:]*: \[sd[a-z]*\] Write cache: enabled'
disk_check_fs scsi "$work/fs.img" fs-scsi0 "$sha_fs"
du_after=$(blk_du_kib "$work/mm.img")
echo "  mm.img holds $du_before KiB before, $du_after KiB after the guest's blkdiscard"
check "trim-scsi2: blkdiscard ran in the guest" log_has 'skiff-guest: scsi trim-scsi2 (sd[a-z]*) blkdiscard done'
check "trim-scsi2: UNMAP freed the image's host blocks (at least 16 MiB)" test $((du_before - du_after)) -ge 16384
check "ro-scsi1: write refused in the guest" log_has 'skiff-guest: scsi ro-scsi1 (sd[a-z]*) read-only: write refused'
check "ro-scsi1: sd saw write protect" log_has 'sd [0-9:]*: \[sd[a-z]*\] Write Protect is on'
check "ro-scsi1: image unchanged" test "$(sha256sum "$work/ro.img" | cut -d' ' -f1)" = "$ro_sha"
check "sg_inq: vendor" log_has 'skiff-guest: scsi sg: sg_inq: *Vendor identification: SKIFF'
check "sg_inq: product" log_has 'skiff-guest: scsi sg: sg_inq: *Product identification: VIRTUAL DISK'
check "sg_vpd: unit serial number fs-scsi0" log_has 'skiff-guest: scsi sg: sg_vpd: *Unit serial number: fs-scsi0'
check "sg_vpd: NAA designator" log_has 'skiff-guest: scsi sg: sg_vpd: *designator type: NAA'
check "sg_vpd: T10 vendor id with the serial" log_has 'skiff-guest: scsi sg: sg_vpd: *vendor specific: fs-scsi0'
check "sg_readcap: 65536 blocks of 512 bytes" \
	log_has 'skiff-guest: scsi sg: sg_readcap: *Last LBA=65535 (0xffff), Number of logical blocks=65536'
check "sg_readcap: no provisioning without discard" \
	log_has 'skiff-guest: scsi sg: sg_readcap: *Logical block provisioning: lbpme=0'
check "sg_luns: LUNs 0 and 2" test "$(grep -a -c 'skiff-guest: scsi sg: sg_luns: *000[02]000000000000' "$log")" = 2
finish
