/* `sluice replay FILE...`: the offline source.  Reads pcap/pcapng files (or
 * stdin), runs every packet through one worker, writes EVE JSON events and
 * prints a human summary to stderr.
 *
 * Each file is a world of its own: flows do not continue across files, packet
 * indices restart at 1, and every event names its file when there are
 * several. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "cmd.h"
#include "log.h"
#include "pcap_source.h"
#include "replay_summary.h"
#include "worker.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice replay [options] FILE...   (FILE '-' reads stdin)\n"
		"\n"
		"  -e, --eve FILE            write EVE JSON events to FILE (default: stdout)\n"
		"      --write-streams DIR   write each direction's reassembled bytes to DIR\n"
		"      --extract DIR         write each message (.eml) and part, named by sha256,\n"
		"                            with DIR/index.jsonl\n"
		"      --quarantine DIR      write blocked messages (.eml + .json) to DIR\n"
		"      --checksum MODE       TCP checksum validation: auto (default), on, off\n"
		"  -q, --quiet               no summary on stderr\n"
		"  -v, --verbose             more log lines (repeat for debug)\n"
		"  -h, --help                this text\n"
		"\n"
		"exit status: 0 all input read; 1 an input file was unreadable or damaged\n"
		"(events before the damage are written); 2 usage or setup error.\n");
}

static int make_dir(const char *dir, const char *what)
{
	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		return 0;
	fprintf(stderr, "sluice replay: cannot create %s directory %s: %s\n", what, dir,
		strerror(errno));
	return -1;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Runs one file through the worker.  Returns 0, or -1 after printing the
 * one-line error that names the file and packet. */
static int replay_file(struct sl_worker *w, struct sl_eve *eve, const char *path, bool multi,
		       struct sl_replay_stats *st)
{
	char err[512];
	struct sl_pcap_source *src = sl_pcap_open(path, err, sizeof(err));
	struct sl_packet p;
	int rc = 0, r;

	if (!src) {
		fprintf(stderr, "sluice replay: %s\n", err);
		return -1;
	}
	sl_eve_set_source(eve, multi ? path : NULL);
	while ((r = sl_pcap_next(src, &p)) > 0) {
		st->packets++;
		st->bytes += p.wire_len;
		sl_worker_packet(w, &p, p.ts_us);
	}
	if (r < 0) {
		fprintf(stderr, "sluice replay: %s\n", sl_pcap_error(src));
		rc = -1;
	}
	/* Flows end with the file, even after an error: what was read is
	 * reported. */
	sl_worker_flush(w);
	sl_pcap_close(src);
	st->files++;
	return rc;
}

int sl_cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "eve", required_argument, NULL, 'e' },
		{ "write-streams", required_argument, NULL, 'S' },
		{ "extract", required_argument, NULL, 'X' },
		{ "quarantine", required_argument, NULL, 'Q' },
		{ "checksum", required_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct sl_worker_config cfg;
	const char *eve_path = "-";
	bool quiet = false;
	int verbose = 0, c;

	sl_worker_config_default(&cfg);
	cfg.settle_sync = true;
	optind = 1;
	while ((c = getopt_long(argc, argv, "e:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'e': eve_path = optarg; break;
		case 'S': cfg.write_streams_dir = optarg; break;
		case 'X': cfg.extract_dir = optarg; break;
		case 'Q': cfg.quarantine_dir = optarg; break;
		case 'C':
			if (sl_csum_mode_parse(optarg, &cfg.decode.csum) != 0) {
				fprintf(stderr, "sluice replay: --checksum takes auto, on or off, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'q': quiet = true; break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "sluice replay: no capture file given (use - for stdin)\n");
		usage(stderr);
		return 2;
	}
	sl_log_setup(verbose >= 2 ? SL_LOG_DEBUG : verbose ? SL_LOG_INFO : SL_LOG_NOTICE, stderr);
	if ((cfg.write_streams_dir && make_dir(cfg.write_streams_dir, "streams") < 0) ||
	    (cfg.extract_dir && make_dir(cfg.extract_dir, "extract") < 0) ||
	    (cfg.quarantine_dir && make_dir(cfg.quarantine_dir, "quarantine") < 0))
		return 2;

	struct sl_eve *eve = sl_eve_open(eve_path);
	if (!eve) {
		fprintf(stderr, "sluice replay: cannot write events to %s: %s\n", eve_path,
			strerror(errno));
		return 2;
	}
	struct sl_worker *w = sl_worker_new(&cfg, eve, NULL, 0);
	if (!w) {
		fprintf(stderr, "sluice replay: out of memory setting up the pipeline\n");
		sl_eve_close(eve);
		return 2;
	}

	struct sl_replay_stats st = { 0 };
	uint64_t t0 = mono_us();
	int failed = 0;
	bool multi = argc - optind > 1;
	for (int i = optind; i < argc; i++)
		if (replay_file(w, eve, argv[i], multi, &st) != 0)
			failed++;
	st.failed_files = (unsigned)failed;
	st.elapsed_us = mono_us() - t0;
	st.events = sl_eve_count(eve);

	if (!quiet)
		sl_replay_summary(stderr, &st, w);
	sl_worker_free(w);
	sl_eve_close(eve);
	return failed ? 1 : 0;
}
