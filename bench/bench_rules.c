/* Rule matcher throughput: a rule file (tools/gen_bench_rules.py makes one
 * with 1,000 keywords and 100 regexes) over generated English-like text,
 * streamed through the match sink exactly as the message builder does:
 * one body object per "message", data() in fixed chunks.
 *
 *   tools/gen_bench_rules.py -o /tmp/bench.rules
 *   build/bench/bench_rules /tmp/bench.rules [MiB=1024] [chunk KiB=64] [object KiB=1024]
 *
 * Prints load time, database size, MB/s (wall and CPU time) and the number
 * of rule matches.
 * The text is made once (16 MiB, seeded) and replayed; only the matching
 * is timed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counters.h"
#include "match_sink.h"
#include "msg.h"
#include "ruleset.h"

#define CORPUS_BYTES (16u << 20)

static const char *const words[] = {
	"the", "of", "and", "to", "a", "in", "for", "is", "on", "that", "by", "this", "with",
	"you", "it", "not", "or", "be", "are", "from", "at", "as", "your", "all", "have", "new",
	"more", "an", "was", "we", "will", "home", "can", "us", "about", "if", "page", "my",
	"has", "search", "free", "but", "our", "one", "other", "do", "no", "information",
	"time", "they", "site", "he", "up", "may", "what", "which", "their", "news", "out",
	"use", "any", "there", "see", "only", "so", "his", "when", "contact", "here", "business",
	"who", "web", "also", "now", "help", "get", "view", "online", "first", "am", "been",
	"would", "how", "were", "me", "services", "some", "these", "click", "its", "like",
	"service", "than", "find", "price", "date", "back", "top", "people", "had", "list",
	"name", "just", "over", "state", "year", "day", "into", "email", "two", "health",
	"world", "next", "used", "go", "work", "last", "most", "products", "music", "buy",
	"data", "make", "them", "should", "product", "system", "post", "her", "city", "add",
	"policy", "number", "such", "please", "available", "copyright", "support", "message",
	"after", "best", "software", "then", "jan", "good", "video", "well", "where", "info",
	"rights", "public", "books", "high", "school", "through", "each", "links", "she",
	"review", "years", "order", "very", "privacy", "book", "items", "company", "read",
	"group", "need", "many", "user", "said", "does", "set", "under", "general", "research",
	"university", "january", "mail", "full", "map", "reviews", "program", "life", "know",
	"games", "way", "days", "management", "part", "could", "great", "united", "hotel",
	"real", "item", "international", "center", "must", "store", "travel", "comments",
	"made", "development", "report", "off", "member", "details", "line", "terms", "before",
	"hotels", "did", "send", "right", "type", "because", "local", "those", "using",
	"results", "office", "education", "national", "car", "design", "take", "posted",
	"internet", "address", "community", "within", "states", "area", "want", "phone",
	"shipping", "reserved", "subject", "between", "forum", "family", "project", "account",
	"confidential", "internal", "operation", "eagle", "river", "summit", "silver", "bank",
	"transfer", "payroll", "invoice", "customer", "draft", "plan", "key", "code", "card",
};

#define N_WORDS (sizeof(words) / sizeof(words[0]))

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* Sentences of common words (some of them keyword parts), numbers of
 * assorted shapes, line breaks every ~70 columns, and now and then an
 * exact keyword so that matches happen (about one per 256 KiB). */
static char *make_corpus(size_t n)
{
	char *b = malloc(n);
	size_t o = 0, col = 0;

	if (!b)
		return NULL;
	while (o + 64 < n) {
		uint32_t r = next_rand();
		char w[48];
		int len;

		if (r % 4096 == 0)
			len = snprintf(w, sizeof(w), "Project Bluebird");
		else if (r % 29 == 0)
			len = snprintf(w, sizeof(w), "%u-%02u-%04u", next_rand() % 1000,
				       next_rand() % 100, next_rand() % 10000);
		else if (r % 13 == 0)
			len = snprintf(w, sizeof(w), "%u", next_rand());
		else
			len = snprintf(w, sizeof(w), "%s", words[next_rand() % N_WORDS]);
		if (r % 11 == 0 && len > 0)
			w[0] = (char)(w[0] >= 'a' && w[0] <= 'z' ? w[0] - 32 : w[0]);
		memcpy(b + o, w, (size_t)len);
		o += (size_t)len;
		col += (size_t)len + 1;
		if (col > 70) {
			memcpy(b + o, "\r\n", 2);
			o += 2;
			col = 0;
		} else {
			b[o++] = r % 17 == 0 ? ',' : r % 23 == 0 ? '.' : ' ';
			if (b[o - 1] != ' ')
				b[o++] = ' ';
		}
	}
	memset(b + o, ' ', n - o);
	return b;
}

static double clock_s(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* CPU time too: on a shared machine wall time measures the neighbours. */
static double cpu(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

int main(int argc, char **argv)
{
	struct sl_rule_error err;
	struct sl_ruleset_info info;
	struct sl_counters ctr;
	char line[1024];

	if (argc < 2) {
		fprintf(stderr, "usage: %s RULES [MiB=1024] [chunk KiB=64] [object KiB=1024]\n",
			argv[0]);
		return 2;
	}
	uint64_t total = (argc > 2 ? strtoull(argv[2], NULL, 10) : 1024) << 20;
	size_t chunk = (argc > 3 ? strtoul(argv[3], NULL, 10) : 64) << 10;
	size_t objsz = (argc > 4 ? strtoul(argv[4], NULL, 10) : 1024) << 10;

	if (!chunk || !objsz || chunk > CORPUS_BYTES || objsz > CORPUS_BYTES) {
		fprintf(stderr, "bench_rules: chunk and object sizes must be 1 KiB .. 16 MiB\n");
		return 2;
	}
	double t0 = now();
	const char *path = argv[1];
	struct sl_ruleset *rs = sl_ruleset_load(&path, 1, &err);

	if (!rs) {
		sl_rule_error_format(&err, line, sizeof(line));
		fprintf(stderr, "%s\n", line);
		return 1;
	}
	double t_load = now() - t0;

	sl_ruleset_info(rs, &info);
	char *corpus = make_corpus(CORPUS_BYTES);
	struct sl_match_sink *ms = sl_match_sink_new(rs, &ctr);

	if (!corpus || !ms) {
		fprintf(stderr, "bench_rules: out of memory\n");
		return 1;
	}
	memset(&ctr, 0, sizeof(ctr));
	struct sl_sink sink = sl_match_sink_sink(ms);
	uint64_t done = 0, objects = 0, reasons = 0;
	size_t pos = 0;

	t0 = now();
	double c0 = cpu();

	while (done < total) {
		struct sl_msg m;
		struct sl_object o = { .scope = SL_SCOPE_TEXT, .part = 1, .msg = &m,
				       .content_type = "text/plain" };
		void *st;

		sl_msg_init(&m, objects + 1, SL_PROTO_SMTP, SL_TO_SERVER);
		if (sink.ops->begin(sink.self, &o, &st) != 0) {
			fprintf(stderr, "bench_rules: the rules do not read the body scope\n");
			return 1;
		}
		for (size_t left = objsz; left && done < total;) {
			size_t n = left < chunk ? left : chunk;

			if (pos + n > CORPUS_BYTES)
				pos = 0;
			o.size += n;
			sink.ops->data(sink.self, &o, st, (const uint8_t *)corpus + pos, n);
			pos += n;
			left -= n;
			done += n;
		}
		sink.ops->end(sink.self, &o, st);
		sink.ops->msg_end(sink.self, &m);
		reasons += m.verdict.n + m.verdict.dropped;
		sl_msg_release(&m);
		objects++;
	}
	double t = now() - t0, c = cpu() - c0;

	printf("rules: %u (%u keyword, %u regex), load+compile %.2f s, %u database(s) %.1f KiB, "
	       "scratch %.1f KiB\n", info.n_rules, info.by_kind[SL_RULE_KEYWORD],
	       info.by_kind[SL_RULE_REGEX], t_load, info.n_databases,
	       (double)info.total_db_bytes / 1024, (double)info.scratch_bytes / 1024);
	printf("scanned %.1f MiB in %llu objects of %zu KiB, chunks of %zu KiB\n",
	       (double)done / (1 << 20), (unsigned long long)objects, objsz >> 10, chunk >> 10);
	printf("  wall %.3f s: %.1f MB/s; cpu %.3f s: %.1f MB/s (one thread)\n",
	       t, (double)done / t / 1e6, c, (double)done / c / 1e6);
	printf("rule matches: %llu (%llu reasons kept)\n",
	       (unsigned long long)ctr.v[SL_CTR_RULES_FIRED], (unsigned long long)reasons);
	sl_match_sink_free(ms);
	sl_ruleset_unref(rs);
	free(corpus);
	return 0;
}
