#!/bin/bash
# virtio-console under the small kernel, in one boot inside a tmux pane
# (a real terminal): --console virtio makes hvc0 the guest's console on
# that terminal, next to a MULTIPORT device with two named ports.
#   - the guest's console check finds the ports by name, writes to the
#     file port (the host reads the line from the file) and leaves an
#     echo loop on the socket port (the host sends a line and reads it back);
#   - then a shell on hvc0: keys typed through tmux send-keys run a command
#     whose output shows; the pane is resized and `stty size` follows
#     (VIRTIO_CONSOLE_F_SIZE, SIGWINCH);
#   - Ctrl-A x quits skiff with status 0 and the terminal is restored.
. "$(dirname "$0")/lib.sh"
require_kvm
require_file "$SMALL_KERNEL"
require_file "$INITRAMFS"
command -v tmux >/dev/null || skip_or_fail "tmux missing"
command -v python3 >/dev/null || skip_or_fail "python3 missing"

work=$(mktemp -d "$LOG_DIR/small-console.XXXXXX")
server=skiff-console-$$
echo_client=
trap 'tmux -L "$server" kill-server 2>/dev/null; [ -z "$echo_client" ] || kill "$echo_client" 2>/dev/null; rm -rf "$work"' EXIT
log=$LOG_DIR/$test_name-tmux.log
: >"$log"
file=$work/log.txt
sock=$work/echo.sock


start=$(date +%s.%N)
tmux -L "$server" new-session -d -s console -x 80 -y 24 \
	"'$SKIFF' run --kernel '$SMALL_KERNEL' --initrd '$INITRAMFS' --console virtio \
	 --cmdline 'skiff.test=virtio,console,shell' \
	 --device console,port=log:file=$file,port=echo:socket=$sock,transport=mmio; \
	 echo skiff-exit-status=\$?; stty -a | grep -o -- '-\?icanon'; sleep 60"
tmux -L "$server" pipe-pane -t console -o "cat >> '$log'"


# wait_for PATTERN SECONDS: the pane printed PATTERN.
wait_for() {
	local deadline=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		grep -a -q -- "$1" "$log" && return 0
		sleep 0.5
	done
	echo "  (waited $2 s for '$1'; the pane now:)"
	tmux -L "$server" capture-pane -p -t console 2>&1 | grep -v '^$' | tail -n 15 | sed 's/^/  | /'
	return 1
}
keys() { tmux -L "$server" send-keys -t console "$@"; }

check "guest console check ran" wait_for 'skiff-check: console' 900
log_has() { grep -a -q -- "$1" "$log"; } # the pane log
expect_checks virtio console
check "the guest's console is hvc0" log_has 'skiff-guest: console active: hvc0'
check "file port: the guest's line is in the host file" grep -q 'skiff console port log: hello from the guest' "$file"

check "the guest's echo has the socket port open" wait_for 'skiff-guest: console echo ready' 60
# The socket port's client: it connects (retrying until skiff listens),
# sends its line once the guest says its echo runs, and reads it back.
# The guest's loop waits for it: Linux gives a reader EOF while no host
# program is connected (checks/console.sh).
token=ping-$RANDOM-$RANDOM
python3 - "$sock" "$token" "$log" >"$work/echo-reply" 2>&1 <<'PY' &
import socket, sys, time
path, token, log = sys.argv[1:4]
deadline = time.time() + 120
s = socket.socket(socket.AF_UNIX)
while True:
    try:
        s.connect(path)
        break
    except OSError:
        if time.time() > deadline:
            raise
        time.sleep(0.2)
while b"skiff-guest: console echo ready" not in open(log, "rb").read():
    if time.time() > deadline:
        sys.exit("the guest's echo never said it was ready")
    time.sleep(0.2)
s.settimeout(60)
s.sendall((token + "\n").encode())
buf = b""
while not buf.endswith(b"\n"):
    chunk = s.recv(100)
    if not chunk:
        break
    buf += chunk
print(buf.decode().strip())
PY
echo_client=$!
wait "$echo_client"
reply=$(cat "$work/echo-reply")
[ "$reply" = "$token" ] || sed 's/^/  | /' "$work/echo-reply"
check "socket port: the guest's echo loop sent back '$token'" test "$reply" = "$token"

check "a shell prompt on hvc0" wait_for 'skiff# ' 300
keys 'echo sum=$((6*7))' Enter
check "typed command ran: sum=42" wait_for 'sum=42' 120
tmux -L "$server" resize-window -t console -x 100 -y 30
sleep 1
keys 'stty size' Enter
check "stty size follows the resized window: 30 100" wait_for '^30 100' 120
keys C-a x
check "Ctrl-A x quits skiff with status 0" wait_for 'skiff-exit-status=0' 60
check "terminal restored (canonical mode)" wait_for '^icanon' 10
name=tmux kernel_quiet_check
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
printf '%s: one boot, %.1f s (log: %s)\n' "$test_name" "$elapsed" "$log"
finish
