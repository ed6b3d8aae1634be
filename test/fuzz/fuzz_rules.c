/* Fuzz target: the rule-file lexer/parser, the list-file parser and the
 * address extractor over arbitrary bytes.  No Hyperscan compilation here:
 * its compile time on hostile patterns is Hyperscan's business, and rule
 * files are operator input; the parsers must still never crash, leak or
 * read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailaddr.h"
#include "addrlist.h"
#include "rule_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_rule_vec v = { 0 };
	struct sl_rule_error e;
	char *s, addr[SL_ADDR_MAX];

	sl_rule_parse("fuzz/x.rules", (const char *)data, size, &v, &e);
	sl_rule_vec_free(&v);
	sl_addrlist_free(sl_addrlist_parse("fuzz.txt", (const char *)data, size, &e));

	if (!(s = malloc(size + 1)))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	const char *cur = s;

	while (sl_addr_next(&cur, addr, sizeof(addr)))
		;
	sl_addr_bare(s, addr, sizeof(addr));
	free(s);
	return 0;
}
