/* SPDX-License-Identifier: MIT */
/*
 * The [dkim] section: signing of local users' mail and the limits of
 * verification (docs/mailauth.md "DKIM", docs/limits.md).
 */
#include <stddef.h>

#include "mailauth/dkim.h"

#define OFF(field) offsetof(struct config, field)

static const struct setting dkim_settings[] = {
	{ .key = "sign", .type = SETTING_BOOL, .offset = OFF(dkim.sign),
	  .def = "yes", .reloadable = true,
	  .doc = "Sign mail that local users submit with the active keys of "
		 "its From domain (herald dkim keygen); a domain without "
		 "keys is sent unsigned." },
	{ .key = "verify_max_signatures", .type = SETTING_UINT,
	  .offset = OFF(dkim.verify_max_signatures), .def = "5", .min = 1,
	  .max = 50, .reloadable = true,
	  .doc = "DKIM-Signature fields verified per message, top down; "
		 "later ones get the result policy without a key lookup." },
	{ .key = "header_max", .type = SETTING_SIZE,
	  .offset = OFF(dkim.header_max), .def = "1M", .min = 4096,
	  .max = 64 * 1024 * 1024, .reloadable = true,
	  .doc = "Header octets kept to sign or verify a message; a bigger "
		 "header is not signed and its signatures are a permerror." },
	{ .key = "clock_skew", .type = SETTING_DURATION,
	  .offset = OFF(dkim.clock_skew_s), .def = "5m", .min = 0,
	  .max = 86400, .unit = DURATION_S, .reloadable = true,
	  .doc = "A signature time (t=) up to this far in the future is "
		 "accepted (the signer's clock may be ahead)." },
	{ .key = "rotation_delay", .type = SETTING_DURATION,
	  .offset = OFF(dkim.rotation_delay_s), .def = "2d", .min = 0,
	  .max = 90 * 86400, .unit = DURATION_S, .reloadable = true,
	  .doc = "herald dkim keygen for a domain that already has a key of "
		 "the algorithm: the new key signs after this long, time to "
		 "publish its record." },
	{ .key = "expire", .type = SETTING_DURATION,
	  .offset = OFF(dkim.expire_s), .def = "0", .min = 0,
	  .max = 365 * 86400, .unit = DURATION_S, .reloadable = true,
	  .doc = "Signatures made carry x= this long after t=; 0: no x= "
		 "(a message re-delivered late still verifies)." },
};

const struct setting_section dkim_settings_section = {
	.name = "dkim",
	.settings = dkim_settings,
	.n_settings = sizeof(dkim_settings) / sizeof(dkim_settings[0]),
	.doc = "DKIM: signing of local users' mail, verification of "
	       "inbound mail (docs/mailauth.md).",
};
