/* libFuzzer target: an IMAP conversation through sl_app (see fuzz_mail.h
 * for the input format). */
#include "fuzz_mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run(143, data, size);
}
