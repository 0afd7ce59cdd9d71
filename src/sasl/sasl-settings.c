/* SPDX-License-Identifier: MIT */
/*
 * The [auth] settings table: the login service's failure budgets and
 * delay, password hashing and the shortest password (docs/limits.md
 * "Failed logins", docs/passwords.md).
 */
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "sasl/login.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define OFF(field) offsetof(struct config, field)

/* config_set() stores an enum setting through an unsigned *. */
_Static_assert(sizeof(enum config_password_scheme) == sizeof(unsigned),
	       "enum size");

/* config_set() stores a SETTING_UINT through an unsigned *: a wider field
 * would be half written (argon2_opslimit was a uint64_t). */
_Static_assert(sizeof(((struct config *)0)->auth.argon2_opslimit) ==
	       sizeof(unsigned), "argon2_opslimit is a SETTING_UINT");

static const struct setting auth_settings[] = {
	{ .key = "fail_per_ip", .type = SETTING_UINT,
	  .offset = OFF(auth.fail_per_ip), .def = "10", .min = 1,
	  .max = 1000000, .reloadable = true,
	  .doc = "Failed logins allowed from one client address per window, "
		 "in all protocols together, before further attempts are "
		 "refused. A successful login does not reset the count." },
	{ .key = "fail_per_user", .type = SETTING_UINT,
	  .offset = OFF(auth.fail_per_user), .def = "20", .min = 1,
	  .max = 1000000, .reloadable = true,
	  .doc = "Failed logins allowed for one account per window (user "
		 "names compared without ASCII case, all protocols together). "
		 "Once spent, only addresses that logged in to the account "
		 "within `known_address_ttl` may still log in to it." },
	{ .key = "fail_window", .type = SETTING_DURATION,
	  .offset = OFF(auth.fail_window_s), .def = "10m", .min = 1,
	  .max = 86400, .unit = DURATION_S, .reloadable = true,
	  .doc = "Length of the failed-login window." },
	{ .key = "fail_delay", .type = SETTING_DURATION,
	  .offset = OFF(auth.fail_delay_ms), .def = "1s", .min = 0,
	  .max = 60000, .unit = DURATION_MS, .reloadable = true,
	  .doc = "Delay before a failed login is answered." },
	{ .key = "known_address_ttl", .type = SETTING_DURATION,
	  .offset = OFF(auth.known_address_s), .def = "30d", .min = 0,
	  .max = 31536000, .unit = DURATION_S, .reloadable = true,
	  .doc = "How long an address that logged in to an account keeps "
		 "logging in to it while failures from other addresses have "
		 "spent the account's budget (`fail_per_user`). 0: the "
		 "account budget applies to every address." },
	{ .key = "known_addresses_per_day", .type = SETTING_UINT,
	  .offset = OFF(auth.known_addresses_per_day), .def = "10", .min = 1,
	  .max = 1000000, .reloadable = true,
	  .doc = "New addresses one account may add per day to the known "
		 "addresses of `known_address_ttl`; logins from more still "
		 "succeed but are not remembered. Without this cap one "
		 "account logging in from ever new addresses (a /48 holds "
		 "65,536 /64 networks) would push other users' known "
		 "addresses out of the table (`fail_table_size`), and "
		 "failures from elsewhere would then lock them out." },
	{ .key = "fail_ipv6_prefix", .type = SETTING_UINT,
	  .offset = OFF(auth.fail_ipv6_prefix), .def = "64", .min = 32,
	  .max = 128, .reloadable = true,
	  .doc = "IPv6 clients share one `fail_per_ip` budget per network of "
		 "this prefix length (one host usually holds a whole /64)." },
	{ .key = "fail_table_size", .type = SETTING_UINT,
	  .offset = OFF(auth.fail_table_size), .def = "16384", .min = 16,
	  .max = 1000000, .reloadable = true,
	  .doc = "Addresses, accounts and known address/account pairs the "
		 "server remembers for the limits above (each table, shared "
		 "by all workers; the least recently failed entry that "
		 "blocks nothing is forgotten first). A reload keeps the "
		 "tables and their "
		 "counts; a new size starts them empty." },
	{ .key = "login_cache_ttl", .type = SETTING_DURATION,
	  .offset = OFF(auth.login_cache_ttl_s), .def = "5m", .min = 0,
	  .max = 86400, .unit = DURATION_S, .reloadable = true,
	  .doc = "How long a worker remembers, in its own memory, that a "
		 "user name and password matched the stored hash, so that "
		 "the next login with them skips the password hash "
		 "(docs/passwords.md \"The verified-login cache\": the "
		 "trade-off). A changed password misses at once; failures "
		 "are never remembered. 0: no cache." },
	{ .key = "login_cache_size", .type = SETTING_UINT,
	  .offset = OFF(auth.login_cache_size), .def = "4096", .min = 0,
	  .max = 1000000, .reloadable = true,
	  .doc = "Entries of the verified-login cache per worker (48 bytes "
		 "each; the soonest to expire is replaced first). 0: no "
		 "cache." },
	{ .key = "plaintext_on_loopback", .type = SETTING_BOOL,
	  .offset = OFF(auth.plaintext_on_loopback), .def = "yes",
	  .reloadable = true,
	  .doc = "Allow password authentication without TLS from loopback "
		 "addresses (elsewhere TLS is always required)." },
	{ .key = "password_scheme", .type = SETTING_ENUM,
	  .offset = OFF(auth.password_scheme), .def = "ARGON2ID",
	  .enum_values = "ARGON2ID|SHA512-CRYPT",
	  .doc = "Scheme for new password hashes. Existing hashes of any "
		 "supported scheme keep working." },
	{ .key = "argon2_opslimit", .type = SETTING_UINT,
	  .offset = OFF(auth.argon2_opslimit), .def = "2", .min = 1,
	  .max = 100,
	  .doc = "Argon2id passes (libsodium opslimit)." },
	{ .key = "argon2_memlimit", .type = SETTING_SIZE,
	  .offset = OFF(auth.argon2_memlimit), .def = "64M",
	  .min = 8192, .max = (uint64_t)4 << 30,
	  .doc = "Argon2id memory per hash." },
	{ .key = "password_min_length", .type = SETTING_UINT,
	  .offset = OFF(auth.password_min_length), .def = "8", .min = 1,
	  .max = 1024,
	  .doc = "Fewest characters of a password set with `herald user add` "
		 "or `herald user passwd`." },
};

const struct setting_section auth_settings_section = {
	.name = "auth",
	.settings = auth_settings,
	.n_settings = N(auth_settings),
	.doc = "Authentication and login limits.",
};
