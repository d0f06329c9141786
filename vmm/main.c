/* skiff: a minimal VMM on Linux KVM. Entry point: parse the command line,
 * build the machine, run it, and turn the way it stopped into an exit status. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/kvm.h"
#include "vmm/control-client.h"
#include "vmm/exec.h"
#include "vmm/exit-status.h"
#include "base/log.h"
#include "base/trace.h"
#include "vmm/machine.h"
#include "vmm/machine-control.h"
#include "vmm/options.h"

/* MemTotal from /proc/meminfo, in bytes (0 if unknown). */
static uint64_t host_mem_bytes(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long long kib = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return (uint64_t)kib * 1024;
}

int main(int argc, char **argv)
{
	struct options opts;
	/* skiff ctl: a client of a running skiff, nothing to do with KVM. */
	if (argc > 1 && strcmp(argv[1], "ctl") == 0)
		return control_client_main(argc - 1, argv + 1);
	/* skiff exec: run one command in a guest (vmm/exec.h). */
	if (argc > 1 && strcmp(argv[1], "exec") == 0)
		return exec_main(argc - 2, argv + 2);

	struct options_limits limits = { .host_mem_bytes = host_mem_bytes(), .max_cpus = kvm_max_vcpus_probe() };
	char err[512] = "";
	switch (options_parse(argc, argv, &limits, &opts, err, sizeof(err))) {
	case OPTIONS_HELP:
		options_usage(stdout);
		return EXIT_GUEST_OK;
	case OPTIONS_VERSION:
		options_version(stdout);
		return EXIT_GUEST_OK;
	case OPTIONS_DEVICE_HELP:
		device_types_help(stdout);
		return EXIT_GUEST_OK;
	case OPTIONS_ERROR:
		fprintf(stderr, "%s\n", err);
		return EXIT_ERROR;
	case OPTIONS_RUN:
		break;
	}
	if (opts.quiet)
		log_threshold = LOG_ERROR;
	else if (opts.verbose)
		log_threshold = LOG_DEBUG;
	if (options_check_files(&opts, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		options_free(&opts);
		return EXIT_ERROR;
	}

	static struct machine machine; /* large (console buffer, device tables): not on the stack; zero-filled as machine_create wants */
	if (machine_create(&machine, &opts, err, sizeof(err)) < 0) {
		fprintf(stderr, "skiff: %s\n", err);
		options_free(&opts);
		return EXIT_ERROR;
	}
	if (opts.trace.categories) {
		if (machine_trace_devices_check(&machine, &opts.trace, err, sizeof(err)) < 0) {
			fprintf(stderr, "skiff: %s\n", err);
			machine_destroy(&machine);
			options_free(&opts);
			return EXIT_ERROR;
		}
		trace_set(&opts.trace);
	}
	int status = machine_run(&machine);
	machine_destroy(&machine);
	options_free(&opts);
	return status;
}
