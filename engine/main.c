/* sluice: command-line entry point.  Parses the subcommand and hands over;
 * all state is created here and passed down, none is global. */
#include <stdio.h>
#include <string.h>

#include "sluice_version.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice <command> [options]\n"
		"\n"
		"commands:\n"
		"  replay FILE...     inspect pcap/pcapng captures offline, write EVE JSON\n"
		"  --help             this text\n"
		"  --version          print the version\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("sluice %s\n", SLUICE_VERSION);
		return 0;
	}
	fprintf(stderr, "sluice: unknown command '%s' (try: sluice --help)\n", argv[1]);
	return 2;
}
