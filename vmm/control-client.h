/* `skiff ctl [--json] PATH COMMAND [ARG]`: send one request to a running
 * skiff's control socket (--api-sock PATH) and print the reply, readable
 * by people (default) or the raw JSON line (--json).
 *
 *   skiff ctl SOCK status | pause | resume | kill | stats
 *   skiff ctl SOCK balloon-set MIB | balloon-stats
 *   skiff ctl SOCK shutdown [--timeout SECONDS]
 *
 * shutdown and kill then wait until skiff has exited (the socket closes).
 * Exit status: 0 done, 1 skiff refused the request (its reason on stderr),
 * 2 bad arguments or no skiff on PATH. */
#ifndef SKIFF_CONTROL_CLIENT_H
#define SKIFF_CONTROL_CLIENT_H

/* argv[0] is "ctl". */
int control_client_main(int argc, char **argv);

#endif
