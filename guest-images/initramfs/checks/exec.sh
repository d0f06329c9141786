# N short processes, each a fresh exec of the static busybox (glibc's
# start-up, its AVX string functions): each must give the right answer,
# and the kernel must log no segfault. ":N" sets the count (default 300).
# One loop per CPU ($cpus, counted by /init), so a 2-vCPU guest also runs
# processes side by side.
check_exec() {
	local n=${1#:} k per wrong=0 loops=0 w before after start end
	[ -n "$n" ] || n=300
	per=$(((n + cpus - 1) / cpus))
	n=$((per * cpus))
	before=$(segfaults)
	read -r start _ < /proc/uptime
	k=0
	while [ $k -lt "$cpus" ]; do
		(
			i=0 bad=0
			while [ $i -lt $per ]; do
				[ "$(/bin/busybox expr $i + $k)" = $((i + k)) ] || bad=$((bad + 1))
				i=$((i + 1))
			done
			echo $bad > /tmp/exec-wrong.$k
		) &
		k=$((k + 1))
	done
	wait
	for w in /tmp/exec-wrong.*; do
		read -r k < "$w" && wrong=$((wrong + k)) && loops=$((loops + 1))
	done
	rm -f /tmp/exec-wrong.*
	read -r end _ < /proc/uptime
	after=$(segfaults)
	echo "skiff-guest: exec: $n processes on $cpus CPUs in $start s -> $end s uptime, $wrong wrong answers, $((after - before)) segfaults"
	if [ "$loops" -ne "$cpus" ]; then
		fail exec "only $loops of $cpus loops finished"
	elif [ "$wrong" -eq 0 ] && [ "$after" -eq "$before" ]; then
		pass exec "$n processes, 0 wrong, 0 segfaults"
	else
		fail exec "$n processes: $wrong wrong answers, $((after - before)) segfaults"
	fi
}
