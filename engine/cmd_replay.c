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
#include "config.h"
#include "inspect.h"
#include "log.h"
#include "replay.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice replay [options] FILE...   (FILE '-' reads stdin)\n"
		"\n"
		"  -c, --config FILE         read settings from FILE (docs/config.md)\n"
		"  -r, --rules FILE          load operator rules from FILE (repeatable; replaces\n"
		"                            the config file's rules.files)\n"
		"      --clamav-db PATH      ClamAV database directory or file (must load)\n"
		"      --no-clamav           do not scan with ClamAV\n"
		"  -e, --eve FILE            write EVE JSON events to FILE (default: stdout)\n"
		"      --write-streams DIR   write each direction's reassembled bytes to DIR\n"
		"      --extract DIR         write each message (.eml) and part, named by sha256,\n"
		"                            with DIR/index.jsonl\n"
		"      --quarantine DIR      write blocked messages (.eml + .json) to DIR\n"
		"      --checksum MODE       TCP checksum validation: auto (default), on, off\n"
		"      --timing              measure each message's verdict latency (summary)\n"
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

int sl_cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "rules", required_argument, NULL, 'r' },
		{ "clamav-db", required_argument, NULL, 'D' },
		{ "no-clamav", no_argument, NULL, 'N' },
		{ "eve", required_argument, NULL, 'e' },
		{ "write-streams", required_argument, NULL, 'S' },
		{ "extract", required_argument, NULL, 'X' },
		{ "quarantine", required_argument, NULL, 'Q' },
		{ "checksum", required_argument, NULL, 'C' },
		{ "timing", no_argument, NULL, 'T' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct sl_config conf;
	const char *cfg_path = NULL, *eve_path = NULL, *clamdb = NULL;
	const char *rules[SL_MAX_RULE_FILES];
	unsigned n_rules = 0;
	bool quiet = false, no_clamav = false, csum_set = false, timing = false;
	enum sl_csum_mode csum = SL_CSUM_AUTO;
	const char *streams = NULL, *extract = NULL, *quarantine = NULL;
	int verbose = 0, c, rc = 2;
	char err[1024];

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:r:e:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cfg_path = optarg; break;
		case 'r':
			if (n_rules == SL_MAX_RULE_FILES) {
				fprintf(stderr, "sluice replay: at most %d --rules files\n",
					SL_MAX_RULE_FILES);
				return 2;
			}
			rules[n_rules++] = optarg;
			break;
		case 'D': clamdb = optarg; break;
		case 'N': no_clamav = true; break;
		case 'e': eve_path = optarg; break;
		case 'S': streams = optarg; break;
		case 'X': extract = optarg; break;
		case 'Q': quarantine = optarg; break;
		case 'C':
			if (sl_csum_mode_parse(optarg, &csum) != 0) {
				fprintf(stderr, "sluice replay: --checksum takes auto, on or off, not '%s'\n",
					optarg);
				return 2;
			}
			csum_set = true;
			break;
		case 'T': timing = true; break;
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

	sl_config_default(&conf);
	if (cfg_path && sl_config_load(&conf, cfg_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice replay: %s\n", err);
		return 2;
	}
	/* Command-line flags override the file. */
	struct sl_worker_config *cfg = &conf.worker;
	sl_config_override_inspection(&conf, rules, n_rules, clamdb, no_clamav);
	if (eve_path)
		conf.eve = eve_path;
	if (streams)
		cfg->write_streams_dir = streams;
	if (extract)
		cfg->extract_dir = extract;
	if (quarantine)
		cfg->quarantine_dir = quarantine;
	if (csum_set)
		cfg->decode.csum = csum;
	sl_log_setup(verbose >= 2 ? SL_LOG_DEBUG : verbose ? SL_LOG_INFO : conf.log_level, stderr);

	if ((cfg->write_streams_dir && make_dir(cfg->write_streams_dir, "streams") < 0) ||
	    (cfg->extract_dir && make_dir(cfg->extract_dir, "extract") < 0) ||
	    (cfg->quarantine_dir && make_dir(cfg->quarantine_dir, "quarantine") < 0))
		goto out_conf;

	struct sl_inspect *in = sl_inspect_new(&conf.inspect, err, sizeof(err));
	struct sl_eve *eve = NULL;
	struct sl_replay *r = NULL;
	if (!in) {
		fprintf(stderr, "sluice replay: %s\n", err);
		goto out;
	}
	eve = sl_eve_open(conf.eve);
	if (!eve) {
		fprintf(stderr, "sluice replay: cannot write events to %s: %s\n", conf.eve,
			strerror(errno));
		goto out;
	}
	r = sl_replay_new(&conf, in, eve, err, sizeof(err));
	if (!r) {
		fprintf(stderr, "sluice replay: %s\n", err);
		goto out;
	}
	sl_replay_set_timing(r, timing);
	if (!quiet) {
		sl_inspect_describe(in, err, sizeof(err));
		fprintf(stderr, "sluice replay: %s\n", err);
	}
	bool multi = argc - optind > 1;
	for (int i = optind; i < argc; i++)
		if (sl_replay_file(r, argv[i], multi, err, sizeof(err)) != 0)
			fprintf(stderr, "sluice replay: %s\n", err);
	if (!quiet)
		sl_replay_summary(stderr, r);
	rc = sl_replay_stats(r)->failed_files ? 1 : 0;
out:
	sl_replay_free(r);
	sl_eve_close(eve);
	sl_inspect_free(in);
out_conf:
	sl_config_free(&conf);
	return rc;
}
