/* skiff run --help and --version. */
#include "config.h"
#include "vmm/options.h"

#include <stdio.h>

#include "devices/device-types.h"

void options_version(FILE *f)
{
	fprintf(f, "skiff %s\n", PACKAGE_VERSION);
}

/* Keep in step with skiff.1. */
void options_usage(FILE *f)
{
	const struct device_type *disk = device_type_for_disk();

	fputs(
"Usage: skiff run --kernel FILE [OPTIONS]\n"
"       skiff run --help\n"
"       skiff exec --kernel FILE [OPTIONS] -- CMD [ARGS...]   (docs/exec.md)\n"
"       skiff ctl [--json] PATH COMMAND [ARG]   (see 'skiff ctl --help')\n"
"       skiff --help | --version\n"
"\n"
"Boot a Linux kernel in a minimal KVM virtual machine.\n"
"\n"
"Options of 'run':\n"
"  --kernel FILE            kernel to boot: a bzImage or an uncompressed\n"
"                           vmlinux ELF (required)\n"
"  --initrd FILE            initial ramdisk\n"
"  --cmdline \"ARGS\"         append ARGS to skiff's default kernel command line;\n"
"                           may be repeated (joined with spaces)\n"
"  --cmdline-replace \"ARGS\" use exactly ARGS as the kernel command line, without\n"
"                           skiff's defaults (not together with --cmdline)\n"
"  --mem SIZE               guest RAM (default 256M). SIZE is a whole number with\n"
"                           a suffix K, M, G or T (powers of 1024, any case, may\n"
"                           end in B or iB: 512M, 2g, 512MiB); a plain number is\n"
"                           MiB. At least 64M, at most the host's RAM.\n"
"  --cpus N                 number of vCPUs (default 1; at most 64, or KVM's\n"
"                           limit if lower)\n"
"  --console serial|virtio|none\n"
"                           serial: the guest's serial console on this terminal\n"
"                           (default); virtio: a virtio console (hvc0) on this\n"
"                           terminal, console=hvc0; none: discard guest output,\n"
"                           send no input\n"
"  --swkvm auto|on|off      workarounds for hosts without hardware virtualization\n"
"                           (default auto: on when such a host is detected)\n"
"  --device SPEC            add a device; may be repeated, up to 32 times.\n"
"                           SPEC is TYPE[,KEY=VALUE...]; every type takes\n"
"                           transport=pci|pci-legacy|pci-modern|mmio|mmio-legacy\n"
"                           (default pci). '--device help' lists the types\n"
"                           and their keys.\n"
"  --disk FILE              a virtio block device on FILE (a raw image or a\n", f);
	if (disk)
		fprintf(f, "                           block device): short for --device %s,%s=FILE\n", disk->name,
			disk->disk_key);
	fputs(
"  --dump-dtb FILE          write the guest's device tree (as skiff builds it)\n"
"                           to FILE\n"
"  --api-sock PATH          serve the control socket (JSON, see 'skiff ctl')\n"
"                           at PATH, owner-only; a stale socket there is\n"
"                           replaced, one a running skiff listens on is refused\n"
"  --debug-exit-port PORT   I/O port of the debug-exit device, decimal or 0x hex\n"
"                           (default 0xf4; 0 = no debug-exit device)\n"
"  --seccomp on|off         confine every thread to the system calls its role\n"
"                           needs while the guest runs (default on)\n"
"  --sandbox on|off         off: no seccomp, Landlock or namespaces, for\n"
"                           debugging\n"
"                           (default on: the file system is closed to skiff\n"
"                           once the machine is built; started as root,\n"
"                           in empty mount and network namespaces where the\n"
"                           devices allow it)\n"
"  --user USER              started as root: run as USER (NAME, UID or\n"
"                           UID:GID, no supplementary groups) once the\n"
"                           machine is built\n"
"  --trace FILTER           one line on stderr per event: guest exits, queue\n"
"                           kicks, requests, interrupts, status changes.\n"
"                           FILTER is 'all' or a comma list of categories\n"
"                           (exit, kick, request, irq, status) and device\n"
"                           names (virtio-blk0, ...): --trace=virtio-blk0,irq\n"
"  -v, --verbose            more messages; repeat for even more\n"
"  -q, --quiet              errors only\n"
"  -h, --help               show this help and exit\n"
"\n"
"Console keys (with --console serial):\n"
"  Ctrl-A x                 stop the guest and quit\n"
"  Ctrl-A Ctrl-A            send Ctrl-A to the guest\n"
"\n"
"Exit status:\n"
"  0                        the guest powered off or rebooted\n"
"  1, 3, 5, ...             the guest wrote VALUE to the debug-exit port:\n"
"                           status (VALUE << 1) | 1, as QEMU's isa-debug-exit\n"
"  2                        bad command line, or skiff failed to start\n"
"  4                        the guest kernel panicked\n"
"  6                        the guest triple-faulted\n"
"  8                        a vCPU stopped on an instruction or error skiff\n"
"                           can't handle\n"
"  143, 130, 129            stopped by SIGTERM, SIGINT, SIGHUP\n"
"\n"
"'exec' runs CMD in the guest with skiff's own init; CMD's stdout and\n"
"stderr on skiff's, the kernel log apart. It takes run's options (not\n"
"--console, --cmdline-replace, --api-sock) and:\n"
"  --timeout S              stop after S seconds (tasks dumped via sysrq)\n"
"  --kernel-log FILE        keep the kernel log (default: shown on failure)\n"
"  --fail-on oops,warn      fail if the kernel log has an oops or WARNING\n"
"  --copy-in HOST:GUEST     copy a file or directory in (may repeat)\n"
"  --copy-out GUEST:HOST    copy a file or directory out after CMD (may repeat)\n"
"  --no-workdir             don't share the working directory (/skiff/work)\n"
"  --junit FILE             CMD's KTAP/TAP output as JUnit XML\n"
"  --ktap                   CMD's KTAP/TAP summary on stderr\n"
"Exit status of 'exec': CMD's; 118/119 --copy-out missing/refused, 120 CMD\n"
"killed by a signal, 121 never reached init, 122 kernel panic, 123 --fail-on\n"
"matched, 124 timeout, 125 skiff failed or bad command line, 126/127 CMD\n"
"not executable/not found.\n"
"\n"
"See skiff(1) for details.\n", f);
}
