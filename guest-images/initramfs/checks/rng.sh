# 16 bytes from each hardware RNG the kernel registered, each read under a
# time limit so a device that never answers fails the check instead of
# hanging the boot.
check_rng() {
	local name hex n=0 bad=0
	for name in $(cat /sys/class/misc/hw_random/rng_available 2>/dev/null); do
		echo "$name" > /sys/class/misc/hw_random/rng_current
		hex=$(timeout 20 head -c 16 /dev/hwrng | od -An -tx1 | tr -d ' \n')
		n=$((n + 1))
		if [ ${#hex} -eq 32 ]; then
			echo "skiff-guest: hwrng $name $hex"
		else
			echo "skiff-guest: hwrng $name error: read '$hex'"
			bad=$((bad + 1))
		fi
	done
	if [ "$n" -eq 0 ]; then
		fail rng "no hw_random device"
	elif [ "$bad" -eq 0 ]; then
		pass rng "$n hwrngs, 16 bytes from each"
	else
		fail rng "$bad of $n hwrngs gave no data"
	fi
}
