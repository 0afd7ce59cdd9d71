/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the submission From:/Sender: check over a whole
 * message (header fields, address lists with their display texts, RFC
 * 2047 encoded words). With sender_check own no directory is read, so
 * the verdict is OK or REFUSED, and a refusal always says why.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "conf/config.h"
#include "delivery/sender-policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sender_policy_result r;

	sender_policy_check_header(NULL, CONFIG_SENDER_CHECK_OWN,
				   "alice@example.test", 1,
				   (const char *)data, size, &r);
	if (r.verdict == SENDER_POLICY_TEMP ||
	    (r.verdict == SENDER_POLICY_REFUSED) != (r.reason != NULL) ||
	    (r.verdict == SENDER_POLICY_REFUSED && r.field == NULL))
		abort();
	sender_policy_result_deinit(&r);
	return 0;
}
