# Guest-side work the disk checks share (blk.sh for virtio-blk, scsi.sh
# for virtio-scsi), so that the host side can check both kinds alike.
# Not a check itself: blk.sh and scsi.sh source it. Each helper prints
# "skiff-guest: KIND SERIAL ..." lines and returns how many problems it saw.

# disk_fs_roundtrip KIND SERIAL DEV: mount the ext4 image the host made,
# check hello.bin against the SHA-256 in hello.sha256, write guest.txt and
# copy.bin; if big.bin exists (discard=on disks), delete it and fstrim;
# sync and unmount. The host inspects the image afterwards.
disk_fs_roundtrip() {
	local kind=$1 serial=$2 dev=$3 mnt=/mnt/$2 sum want bad=0
	mkdir -p "$mnt"
	if ! mount -t ext4 "/dev/$dev" "$mnt"; then
		echo "skiff-guest: $kind $serial ($dev): mount failed"
		return 1
	fi
	sum=$(sha256sum "$mnt/hello.bin")
	sum=${sum%% *}
	read -r want < "$mnt/hello.sha256"
	echo "skiff-guest: $kind $serial ($dev) hello.bin sha256 $sum"
	[ "$sum" = "$want" ] || { echo "skiff-guest: $kind $serial: expected $want"; bad=$((bad + 1)); }
	echo "guest wrote this on $serial" > "$mnt/guest.txt"
	cp "$mnt/hello.bin" "$mnt/copy.bin" || bad=$((bad + 1))
	if [ -f "$mnt/big.bin" ]; then
		rm "$mnt/big.bin"
		sync
		echo "skiff-guest: $kind $serial fstrim: $(fstrim -v "$mnt" 2>&1)"
	fi
	sync
	umount "$mnt" || bad=$((bad + 1))
	echo "skiff-guest: $kind $serial written and unmounted"
	return "$bad"
}

# disk_readonly KIND SERIAL DEV: the kernel must see a readonly=on disk
# read-only, and a direct write to it must fail.
disk_readonly() {
	local kind=$1 serial=$2 dev=$3 ro
	read -r ro < "/sys/block/$dev/ro"
	if [ "$ro" != 1 ]; then
		echo "skiff-guest: $kind $serial ($dev): kernel does not see it read-only"
		return 1
	fi
	if dd if=/dev/zero of="/dev/$dev" bs=4096 count=1 oflag=direct 2>/dev/null; then
		echo "skiff-guest: $kind $serial ($dev): a write to the read-only disk succeeded"
		return 1
	fi
	echo "skiff-guest: $kind $serial ($dev) read-only: write refused"
}
