# virtio-scsi disks seen through sd, each found by its unit serial number
# (VPD page 80h, /sys/block/sdX/device/vpd_pg80). skiff.test=scsi:N expects
# N such disks. For each it prints its H:C:T:L and size, so the host can
# match them with what it configured:
#   skiff-guest: scsi SERIAL (sdX) hctl H:C:T:L sectors N discard BYTES
#   fs-*   an ext4 image the host made: mount it, check hello.bin against
#          hello.sha256, write guest.txt and copy.bin, sync, unmount, as
#          blk.sh does (disk-common.sh). The host checks the image
#          afterwards (debugfs, e2fsck).
#   ro-*   a readonly=on disk: the kernel must see it read-only (the
#          MODE SENSE WP bit) and a direct write must fail.
#   trim-* a discard=on disk: blkdiscard all of it (the host sees the
#          image's blocks freed).
# If sg3-utils are in the image (/usr/bin/sg_inq), sg_inq, sg_vpd,
# sg_readcap and sg_luns run on the first fs-* disk and their output is
# printed for the host to compare.
check_scsi() {
	. /lib/skiff/checks/disk-common.sh
	local want=${1#:} sys dev serial n=0 bad=0 hctl x sectors discard first= tries=0
	# With modules (the Debian kernel) the SCSI scan and sd's probe run
	# asynchronously after insmod returns: wait for the disks to appear.
	while [ -n "$want" ] && [ "$tries" -lt 120 ]; do
		n=0
		for sys in /sys/block/sd*; do [ -e "$sys/size" ] && n=$((n + 1)); done
		[ "$n" -ge "$want" ] && break
		tries=$((tries + 1))
		sleep 1
	done
	[ "$tries" -eq 0 ] || echo "skiff-guest: scsi waited $tries s for the disks"
	n=0
	for sys in /sys/block/sd*; do
		[ -e "$sys" ] || continue
		dev=${sys##*/}
		# 4 header bytes (one is 0x80), then the serial
		serial=$(tail -c +5 "$sys/device/vpd_pg80" 2>/dev/null)
		hctl=
		for x in "$sys"/device/scsi_device/*; do hctl=${x##*/}; done
		read -r sectors < "$sys/size"
		read -r discard < "$sys/queue/discard_max_bytes"
		echo "skiff-guest: scsi $serial ($dev) hctl $hctl sectors $sectors discard $discard"
		case $serial in
		fs-*)
			n=$((n + 1))
			[ -n "$first" ] || first=$dev
			disk_fs_roundtrip scsi "$serial" "$dev" || bad=$((bad + $?))
			;;
		ro-*)
			n=$((n + 1))
			disk_readonly scsi "$serial" "$dev" || bad=$((bad + 1))
			;;
		trim-*)
			n=$((n + 1))
			# UNMAP (sd's discard mode with thin provisioning) over the whole disk
			if blkdiscard "/dev/$dev"; then
				echo "skiff-guest: scsi $serial ($dev) blkdiscard done"
			else
				echo "skiff-guest: scsi $serial ($dev): blkdiscard failed"
				bad=$((bad + 1))
			fi
			;;
		?*)
			n=$((n + 1))
			;;
		esac
	done
	if [ -n "$first" ] && [ -x /usr/bin/sg_inq ]; then
		for x in "sg_inq /dev/$first" "sg_vpd --page=sn /dev/$first" "sg_vpd --page=di /dev/$first" \
			"sg_readcap --long /dev/$first" "sg_luns /dev/$first"; do
			$x 2>&1 | while IFS= read -r line; do echo "skiff-guest: scsi sg: ${x%% *}: $line"; done
		done
	fi
	if [ "$n" -eq 0 ]; then
		fail scsi "no SCSI disk with a serial number"
	elif [ -n "$want" ] && [ "$n" != "$want" ]; then
		fail scsi "$n disks with a serial number, expected $want"
	elif [ "$bad" -eq 0 ]; then
		pass scsi "$n disks"
	else
		fail scsi "$bad problems on $n disks"
	fi
}
