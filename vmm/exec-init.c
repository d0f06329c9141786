/* skiff exec's init: the guest's PID 1 (rdinit=/skiff/init).
 *
 * A freestanding static x86-64 program (no libc: raw system calls), built
 * at build time and embedded into skiff (vmm/exec-init-blob.S), which packs
 * it into the extra cpio it appends to the user's initramfs. Built with
 * the test guest's string.c (no libc here either).
 *
 * It mounts /proc, /sys, /dev (devtmpfs) and /tmp, loads the virtio
 * drivers a distribution kernel keeps in modules, brings up lo (and eth0
 * with slirp's default static address if it exists), finds its three
 * virtio-console ports by name, runs CMD (/skiff/argv: NUL-separated) as
 * its child with stdout and stderr on their ports, reaps orphans, sends
 * CMD's status and waits for the host's acknowledgement before powering
 * off. The protocol is in vmm/exec-status.h. */
#include <linux/fcntl.h>
#include <linux/if.h>
#include <linux/in.h>
#include <linux/reboot.h>
#include <linux/route.h>
#include <linux/sockios.h>
#include <asm/unistd.h>
#include <stddef.h>

#define SIGCHLD_ 17
#define WNOHANG_ 1

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#define sys(n, a, b, c) sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

static int seq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* memset, memcpy, strlen: the test guest's (guest-images/test-guest/string.c),
 * linked in by the build rule. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t strlen(const char *s);

static void put(int fd, const char *s)
{
	sys(__NR_write, fd, s, strlen(s));
}

static char *fmt_uint(char *end, unsigned long v)
{
	*--end = '\0';
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

static int console = -1, status_port = -1;

static void say(const char *what)
{
	if (console >= 0) {
		put(console, "skiff-init: ");
		put(console, what);
		put(console, "\n");
	}
}

static void power_off(void)
{
	sys(__NR_sync, 0, 0, 0);
	sys6(__NR_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF, 0, 0, 0);
	for (;;)
		sys(__NR_pause, 0, 0, 0);
}

static void mount_fs(const char *src, const char *dir, const char *type)
{
	sys(__NR_mkdir, dir, 0755, 0);
	if (sys6(__NR_mount, (long)src, (long)dir, (long)type, 0, 0, 0) < 0 && console >= 0) {
		put(console, "skiff-init: cannot mount ");
		say(dir);
	}
}

/* ---- network: ioctls on a datagram socket ---- */

static void if_up(int s, const char *name)
{
	struct ifreq r;
	memset(&r, 0, sizeof(r));
	memcpy(r.ifr_name, name, strlen(name) + 1);
	if (sys(__NR_ioctl, s, SIOCGIFFLAGS, &r) < 0)
		return;
	r.ifr_flags |= IFF_UP;
	sys(__NR_ioctl, s, SIOCSIFFLAGS, &r);
}

static struct sockaddr_in inet(unsigned a, unsigned b, unsigned c, unsigned d)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = a | b << 8 | c << 16 | d << 24; /* network order on little-endian */
	return sin;
}

static void if_addr(int s, const char *name, unsigned long req, struct sockaddr_in sin)
{
	struct ifreq r;
	memset(&r, 0, sizeof(r));
	memcpy(r.ifr_name, name, strlen(name) + 1);
	memcpy(&r.ifr_addr, &sin, sizeof(sin));
	sys(__NR_ioctl, s, req, &r);
}

/* slirp's defaults (docs/devices.md): guest 10.0.2.15/24, gateway 10.0.2.2,
 * DNS 10.0.2.3. Static, no DHCP client needed. */
static void net_up(void)
{
	int s = (int)sys(__NR_socket, AF_INET, 2 /* SOCK_DGRAM */, 0);
	if (s < 0)
		return;
	if_up(s, "lo");
	struct ifreq probe;
	memset(&probe, 0, sizeof(probe));
	memcpy(probe.ifr_name, "eth0", 5);
	if (sys(__NR_ioctl, s, SIOCGIFFLAGS, &probe) == 0) {
		if_addr(s, "eth0", SIOCSIFADDR, inet(10, 0, 2, 15));
		if_addr(s, "eth0", SIOCSIFNETMASK, inet(255, 255, 255, 0));
		if_up(s, "eth0");
		struct rtentry rt;
		memset(&rt, 0, sizeof(rt));
		struct sockaddr_in any = inet(0, 0, 0, 0), gw = inet(10, 0, 2, 2);
		memcpy(&rt.rt_dst, &any, sizeof(any));
		memcpy(&rt.rt_genmask, &any, sizeof(any));
		memcpy(&rt.rt_gateway, &gw, sizeof(gw));
		rt.rt_flags = RTF_UP | RTF_GATEWAY;
		sys(__NR_ioctl, s, SIOCADDRT, &rt);
		int fd = (int)sys(__NR_open, "/etc/resolv.conf", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			put(fd, "nameserver 10.0.2.3\n");
			sys(__NR_close, fd, 0, 0);
		}
	}
	sys(__NR_close, s, 0, 0);
}

/* ---- ports: /sys/class/virtio-ports/vportNpM/name ---- */

static char port_path[] = "/sys/class/virtio-ports/vport0p0/name";
static char dev_path[] = "/dev/vport0p0";

static int open_port(const char *want)
{
	for (char n = '0'; n <= '7'; n++)
		for (char p = '1'; p <= '7'; p++) {
			port_path[29] = dev_path[10] = n;
			port_path[31] = dev_path[12] = p;
			char name[64];
			int fd = (int)sys(__NR_open, port_path, O_RDONLY, 0);
			if (fd < 0)
				continue;
			long len = sys(__NR_read, fd, name, sizeof(name) - 1);
			sys(__NR_close, fd, 0, 0);
			if (len <= 0)
				continue;
			name[len] = '\0';
			if (name[len - 1] == '\n')
				name[len - 1] = '\0';
			if (seq(name, want))
				return (int)sys(__NR_open, dev_path, O_RDWR, 0);
		}
	return -1;
}

/* The driver adds ports from a workqueue, after the device announces
 * them: PID 1 can run before they exist (seen with 8 guests booting at
 * once). So look again every 10 ms, for up to 60 s of guest time. */
static int wait_ports(int *out, int *errp)
{
	const struct { long sec, nsec; } tick = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < 6000; i++) {
		if (status_port < 0)
			status_port = open_port("skiff.status");
		if (*out < 0)
			*out = open_port("skiff.stdout");
		if (*errp < 0)
			*errp = open_port("skiff.stderr");
		if (status_port >= 0 && *out >= 0 && *errp >= 0)
			return 0;
		sys(__NR_nanosleep, &tick, 0, 0);
	}
	return -1;
}

/* ---- CMD ---- */

#define ARGV_MAX 256
static char args[65536];
static char *argv[ARGV_MAX + 1];
static char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
		       "TERM=dumb", NULL};

static int read_argv(void)
{
	int fd = (int)sys(__NR_open, "/skiff/argv", O_RDONLY, 0);
	if (fd < 0)
		return -1;
	long len = sys(__NR_read, fd, args, sizeof(args) - 1);
	sys(__NR_close, fd, 0, 0);
	if (len <= 0)
		return -1;
	int argc = 0;
	for (long i = 0; i < len && argc < ARGV_MAX; i++) {
		argv[argc++] = &args[i];
		while (i < len && args[i])
			i++;
	}
	argv[argc] = NULL;
	return argc;
}

/* execve CMD, searching PATH if it has no slash, as a shell would:
 * 127 if not found, 126 if found but not executable. */
static void exec_cmd(void)
{
	static char path[4096];
	const char *dirs = envp[0] + 5;
	long err = -2; /* ENOENT */

	for (const char *c = argv[0]; *c; c++)
		if (*c == '/') {
			err = sys(__NR_execve, argv[0], argv, envp);
			goto failed;
		}
	while (*dirs) {
		size_t n = 0;
		while (dirs[n] && dirs[n] != ':')
			n++;
		size_t alen = strlen(argv[0]);
		if (n + 1 + alen < sizeof(path)) {
			memcpy(path, dirs, n);
			path[n] = '/';
			memcpy(path + n + 1, argv[0], alen + 1);
			long e = sys(__NR_execve, path, argv, envp);
			if (e != -2)
				err = e;
		}
		dirs += n + (dirs[n] == ':');
	}
failed:
	put(2, "skiff-init: cannot run ");
	put(2, argv[0]);
	put(2, err == -2 ? ": not found\n" : ": not executable\n");
	sys(__NR_exit_group, err == -2 ? 127 : 126, 0, 0);
}

/* ---- --copy-out: GUEST paths packed as cpio newc onto skiff.copyN ---- */

#define COPY_OUT_MAX 4
static char copy_list[8192];            /* /skiff/copy-out: GUEST paths, NUL-separated */
static unsigned char obuf[65536];
static unsigned long olen;
static int oport = -1;
static unsigned long ino;

static void oflush(void)
{
	for (unsigned long off = 0; off < olen;) {
		long n = sys(__NR_write, oport, obuf + off, olen - off);
		if (n <= 0)
			break; /* the host sees a truncated stream: its error */
		off += (unsigned long)n;
	}
	olen = 0;
}

static void oput(const void *p, unsigned long n)
{
	const unsigned char *c = p;
	while (n) {
		if (olen == sizeof(obuf))
			oflush();
		unsigned long take = sizeof(obuf) - olen < n ? sizeof(obuf) - olen : n;
		memcpy(obuf + olen, c, take);
		olen += take;
		c += take;
		n -= take;
	}
}

static unsigned long opos; /* bytes of the stream so far, for padding */

static void oput_counted(const void *p, unsigned long n)
{
	oput(p, n);
	opos += n;
}

static void opad(void)
{
	static const char zeros[4];
	oput_counted(zeros, (4 - opos % 4) % 4);
}

static void hex8(char *p, unsigned long v)
{
	for (int i = 7; i >= 0; i--, v >>= 4)
		p[i] = "0123456789ABCDEF"[v & 15];
}

static void entry_header(const char *name, unsigned long mode, unsigned long size)
{
	char h[110];
	unsigned long fields[13] = {++ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, strlen(name) + 1, 0};
	memcpy(h, "070701", 6);
	for (int i = 0; i < 13; i++)
		hex8(h + 6 + 8 * i, fields[i]);
	oput_counted(h, sizeof(h));
	oput_counted(name, strlen(name) + 1);
	opad();
}

struct kstat { /* struct stat on x86-64 */
	unsigned long dev, ino, nlink;
	unsigned int mode, uid, gid, pad0;
	unsigned long rdev;
	long size, blksize, blocks;
	unsigned long times[6];
	long unused[3];
};

#define S_IFMT_ 0170000
#define S_IFDIR_ 0040000
#define S_IFREG_ 0100000
#define S_IFLNK_ 0120000

static char path[4096], name[4096];
static unsigned char fbuf[65536];

/* Packs path (the guest's) as name (the stream's), recursively. Types
 * other than files, directories and symlinks are left out. */
static void pack(unsigned long plen, unsigned long nlen)
{
	struct kstat st;
	if (sys6(__NR_newfstatat, -100 /* AT_FDCWD */, (long)path, (long)&st, 0x100 /* AT_SYMLINK_NOFOLLOW */, 0, 0) < 0)
		return;
	unsigned int type = st.mode & S_IFMT_;
	if (type == S_IFLNK_) {
		static char target[4096]; /* static: not on every level's stack */
		long n = sys(__NR_readlink, path, target, sizeof(target) - 1);
		if (n > 0) {
			entry_header(name, st.mode, (unsigned long)n);
			oput_counted(target, (unsigned long)n);
			opad();
		}
	} else if (type == S_IFREG_) {
		int fd = (int)sys(__NR_open, path, O_RDONLY, 0);
		if (fd < 0)
			return;
		unsigned long size = (unsigned long)st.size, done = 0;
		entry_header(name, st.mode, size);
		while (done < size) { /* exactly size bytes: zeros if it shrank */
			unsigned long want = size - done < sizeof(fbuf) ? size - done : sizeof(fbuf);
			long n = sys(__NR_read, fd, fbuf, want);
			if (n <= 0) {
				memset(fbuf, 0, want);
				n = (long)want;
			}
			oput_counted(fbuf, (unsigned long)n);
			done += (unsigned long)n;
		}
		opad();
		sys(__NR_close, fd, 0, 0);
	} else if (type == S_IFDIR_) {
		entry_header(name, st.mode, 0);
		int fd = (int)sys(__NR_open, path, O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0)
			return;
		for (;;) {
			char local[2048]; /* per level: the recursion below reuses nothing of it */
			long n = sys(__NR_getdents64, fd, local, sizeof(local));
			if (n <= 0)
				break;
			for (long off = 0; off < n;) {
				struct { unsigned long ino; long off; unsigned short reclen; unsigned char type; char name[]; } *d =
					(void *)(local + off);
				off += d->reclen;
				unsigned long len = strlen(d->name);
				if ((len == 1 && d->name[0] == '.') || (len == 2 && d->name[0] == '.' && d->name[1] == '.'))
					continue;
				if (plen + 1 + len >= sizeof(path) || nlen + 1 + len >= sizeof(name))
					continue;
				path[plen] = name[nlen] = '/';
				memcpy(path + plen + 1, d->name, len + 1);
				memcpy(name + nlen + 1, d->name, len + 1);
				pack(plen + 1 + len, nlen + 1 + len);
				path[plen] = name[nlen] = '\0';
			}
		}
		sys(__NR_close, fd, 0, 0);
	}
}

/* Each GUEST path, in order, onto its port; a missing one is an empty
 * archive (only the trailer), which the host reports. */
static void copy_out(void)
{
	int fd = (int)sys(__NR_open, "/skiff/copy-out", O_RDONLY, 0);
	if (fd < 0)
		return;
	long len = sys(__NR_read, fd, copy_list, sizeof(copy_list) - 1);
	sys(__NR_close, fd, 0, 0);
	static char port[] = "skiff.copy0";
	for (long i = 0, k = 0; i < len && k < COPY_OUT_MAX; k++) {
		const char *g = copy_list + i;
		unsigned long glen = strlen(g);
		i += (long)glen + 1;
		port[10] = (char)('0' + k);
		if ((oport = open_port(port)) < 0) {
			say("cannot find a skiff.copy port");
			continue;
		}
		const char *base = g;
		for (const char *c = g; *c; c++)
			if (*c == '/' && c[1])
				base = c + 1;
		unsigned long blen = strlen(base);
		while (blen && base[blen - 1] == '/')
			blen--;
		if (glen < sizeof(path) && blen && blen < sizeof(name)) {
			memcpy(path, g, glen + 1);
			memcpy(name, base, blen);
			name[blen] = '\0';
			opos = 0;
			pack(glen, blen);
		}
		entry_header("TRAILER!!!", 0, 0);
		oflush();
		sys(__NR_close, oport, 0, 0);
	}
}

static void send_status(const char *kind, unsigned long v)
{
	char num[24], ack[16];
	put(status_port, kind);
	put(status_port, fmt_uint(num + sizeof(num), v));
	put(status_port, "\n");
	/* Power off only once the host has the status: no race with shutdown. */
	size_t got = 0;
	while (got < 4) {
		long n = sys(__NR_read, status_port, ack + got, sizeof(ack) - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
}

/* ---- drivers built as modules ----
 *
 * Distribution kernels (Debian's among them) build the virtio drivers as
 * modules and load them from their initramfs. When a driver is not
 * registered yet and the initramfs has a modprobe (busybox's or kmod's,
 * with the kernel's modules.dep), load it: first the transports, then
 * what the ports, the network and disks need. A driver that is neither
 * built in nor in the initramfs stays missing; the ports' wait says so. */

static const char *const drivers[][2] = {
	{ "/sys/bus/pci/drivers/virtio-pci", "virtio_pci" },
	{ "/sys/bus/platform/drivers/virtio-mmio", "virtio_mmio" },
	{ "/sys/bus/virtio/drivers/virtio_console", "virtio_console" },
	{ "/sys/bus/virtio/drivers/virtio_net", "virtio_net" },
	{ "/sys/bus/virtio/drivers/virtio_blk", "virtio_blk" },
	{ "/sys/bus/virtio/drivers/virtio_scsi", "virtio_scsi" },
};

static void modprobe(const char *module)
{
	char *mp_argv[] = { "/sbin/modprobe", "-q", (char *)module, NULL };
	long pid = sys(__NR_fork, 0, 0, 0);

	if (pid == 0) {
		sys(__NR_execve, mp_argv[0], mp_argv, envp);
		sys(__NR_exit, 127, 0, 0);
	}
	if (pid < 0)
		return;
	int ws;
	while (sys6(__NR_wait4, pid, (long)&ws, 0, 0, 0, 0) == -4 /* EINTR */)
		;
}

static void load_drivers(void)
{
	if (sys(__NR_access, "/sbin/modprobe", 1 /* X_OK */, 0) != 0)
		return;
	for (unsigned i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (sys(__NR_access, drivers[i][0], 0 /* F_OK */, 0) != 0)
			modprobe(drivers[i][1]);
}

void _start_c(void)
{
	console = (int)sys(__NR_open, "/dev/console", O_WRONLY, 0);
	mount_fs("proc", "/proc", "proc");
	mount_fs("sysfs", "/sys", "sysfs");
	mount_fs("devtmpfs", "/dev", "devtmpfs");
	mount_fs("tmpfs", "/tmp", "tmpfs");
	if (console < 0)
		console = (int)sys(__NR_open, "/dev/console", O_WRONLY, 0);
	/* The shared working directory is read-only, as documented. */
	sys6(__NR_mount, (long)"/skiff/work", (long)"/skiff/work", 0, 4096 /* MS_BIND */, 0, 0);
	sys6(__NR_mount, 0, (long)"/skiff/work", 0, 4096 | 32 | 1 /* MS_BIND | MS_REMOUNT | MS_RDONLY */, 0, 0);
	load_drivers();
	net_up();

	int out = -1, errp = -1;
	if (wait_ports(&out, &errp) < 0) {
		say("the skiff.status, skiff.stdout and skiff.stderr ports did not appear within 60 s");
		power_off();
	}
	put(status_port, "hello\n");
	if (read_argv() <= 0) {
		say("no command in /skiff/argv");
		power_off();
	}

	long pid = sys(__NR_fork, 0, 0, 0);
	if (pid == 0) {
		int in = (int)sys(__NR_open, "/dev/null", O_RDONLY, 0);
		sys(__NR_dup2, in, 0, 0);
		sys(__NR_dup2, out, 1, 0);
		sys(__NR_dup2, errp, 2, 0);
		sys(__NR_chdir, "/skiff/work", 0, 0);
		exec_cmd();
	}
	int ws = 0;
	for (;;) {
		long r = sys6(__NR_wait4, -1, (long)&ws, 0, 0, 0, 0);
		if (r == pid || r == -10 /* ECHILD */)
			break;
	}
	/* Stragglers CMD left behind keep running until power-off. */
	copy_out();
	if (pid < 0)
		send_status("exit ", 125);
	else if ((ws & 0x7f) == 0)
		send_status("exit ", (unsigned long)((ws >> 8) & 0xff));
	else
		send_status("signal ", (unsigned long)(ws & 0x7f));
	power_off();
}

__asm__(".globl _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	and $-16, %rsp\n"
	"	call _start_c\n"
	"	hlt\n");
