#!/bin/sh
# Instructions per virtio-rng request with --trace off, on with the
# device filtered out, and on with lines written (to /dev/null), counted
# by callgrind inside run_requests() only: repeatable figures where times
# move with the host's load. Skipped without valgrind.
#   tests/bench/trace-insns.sh [BENCH [REQUESTS]]
bench=${1:-tests/bench/bench-trace}
n=${2:-2000}
if ! command -v valgrind >/dev/null; then
	echo "trace-insns: no valgrind, no instruction counts"
	echo "bench-skip|--trace cost, callgrind|no valgrind"
	exit 0
fi
echo "--trace cost in instructions per 64-byte virtio-rng request (callgrind, $n requests):"
for kind in off miss on; do
	ir=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect=run_requests \
		"$bench" "$n" "$kind" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
	case $kind in
	off) what="tracing off" off=$ir ;;
	miss) what="on, device filtered out" ;;
	on) what="on, lines to /dev/null" ;;
	esac
	printf '  %-26s %8d insns' "$what" $((ir / n))
	[ "$kind" != off ] && printf '   (+%d vs off)' $(((ir - off) / n))
	printf '\n'
	# (for make bench's summary, tests/bench/summary)
	[ "$kind" != off ] && echo "bench-row|--trace cost, callgrind (limit: tracing off)|$what|insns/request|lower|$((ir / n))||$((off / n))"
done
ir=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect=run_bare_points \
	"$bench" "$n" bare 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
printf '  %-26s %8s insns (the loop around it included)\n' "one disabled trace point" \
	"$(echo "scale=1; $ir / $n" | bc)"
