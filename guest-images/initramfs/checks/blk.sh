# virtio-blk disks, each found by its serial (GET_ID, /sys/block/vdX/serial):
#   fs-*   an ext4 image the host made: mount it, check hello.bin against
#          the SHA-256 the host stored in hello.sha256, write guest.txt and
#          copy.bin, delete big.bin and fstrim if it exists (discard=on
#          disks), sync, unmount. The host checks the image afterwards
#          (debugfs, e2fsck, du).
#   ro-*, crash-src   a readonly=on disk: the kernel must see it read-only
#          and a direct write to it must fail.
check_blk() {
	local sys dev serial n=0 bad=0 sum want mnt ro
	for sys in /sys/block/vd*; do
		[ -e "$sys" ] || continue
		dev=${sys##*/}
		serial=
		read -r serial < "$sys/serial" 2>/dev/null
		case $serial in
		fs-*)
			n=$((n + 1))
			mnt=/mnt/$serial
			mkdir -p "$mnt"
			if ! mount -t ext4 "/dev/$dev" "$mnt"; then
				echo "skiff-guest: blk $serial ($dev): mount failed"
				bad=$((bad + 1))
				continue
			fi
			sum=$(sha256sum "$mnt/hello.bin")
			sum=${sum%% *}
			read -r want < "$mnt/hello.sha256"
			echo "skiff-guest: blk $serial ($dev) hello.bin sha256 $sum"
			[ "$sum" = "$want" ] || { echo "skiff-guest: blk $serial: expected $want"; bad=$((bad + 1)); }
			echo "guest wrote this on $serial" > "$mnt/guest.txt"
			cp "$mnt/hello.bin" "$mnt/copy.bin" || bad=$((bad + 1))
			if [ -f "$mnt/big.bin" ]; then
				rm "$mnt/big.bin"
				sync
				echo "skiff-guest: blk $serial fstrim: $(fstrim -v "$mnt" 2>&1)"
			fi
			sync
			umount "$mnt" || bad=$((bad + 1))
			echo "skiff-guest: blk $serial written and unmounted"
			;;
		ro-*|crash-src)
			n=$((n + 1))
			read -r ro < "$sys/ro"
			if [ "$ro" != 1 ]; then
				echo "skiff-guest: blk $serial ($dev): kernel does not see it read-only"
				bad=$((bad + 1))
			elif dd if=/dev/zero of="/dev/$dev" bs=4096 count=1 oflag=direct 2>/dev/null; then
				echo "skiff-guest: blk $serial ($dev): a write to the read-only disk succeeded"
				bad=$((bad + 1))
			else
				echo "skiff-guest: blk $serial ($dev) read-only: write refused"
			fi
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
