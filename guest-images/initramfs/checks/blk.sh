# virtio-blk disks, each found by its serial (GET_ID, /sys/block/vdX/serial):
#   fs-*   an ext4 image the host made: mount it, check hello.bin against
#          the SHA-256 the host stored in hello.sha256, write guest.txt and
#          copy.bin, delete big.bin and fstrim if it exists (discard=on
#          disks), sync, unmount. The host checks the image afterwards
#          (debugfs, e2fsck, du).
#   ro-*, crash-src   a readonly=on disk: the kernel must see it read-only
#          and a direct write to it must fail.
check_blk() {
	. /lib/skiff/checks/disk-common.sh
	local sys dev serial n=0 bad=0
	for sys in /sys/block/vd*; do
		[ -e "$sys" ] || continue
		dev=${sys##*/}
		serial=
		read -r serial < "$sys/serial" 2>/dev/null
		case $serial in
		fs-*)
			n=$((n + 1))
			disk_fs_roundtrip blk "$serial" "$dev" || bad=$((bad + $?))
			;;
		ro-*|crash-src)
			n=$((n + 1))
			disk_readonly blk "$serial" "$dev" || bad=$((bad + 1))
			;;
		esac
	done
	if [ "$n" -eq 0 ]; then
		fail blk "no virtio disk with a known serial"
	elif [ "$bad" -eq 0 ]; then
		pass blk "$n disks"
	else
		fail blk "$bad problems on $n disks"
	fi
}
