/* SPDX-License-Identifier: MIT */
/*
 * Recipient resolution: an envelope address to accounts and remote
 * addresses, through users, sub-addresses, aliases and catch-alls. Runs on
 * the thread pool (every store call blocks).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delivery/delivery.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "mail/address.h"

struct resolve_ctx {
	struct store *store;
	struct delivery_dest *dests;
	size_t n, cap;
	bool temp;
	const char *error;
	const char *alias;	/* the alias whose targets are resolved */
};

static void
dest_add(struct resolve_ctx *ctx, enum delivery_kind kind, int64_t account_id,
	 const char *address, const char *delivered_to, const char *tag)
{
	struct delivery_dest d = {
		.kind = kind,
		.account_id = account_id,
		.address = (char *)address,
	};

	for (size_t i = 0; i < ctx->n; i++) {
		if (delivery_dest_same(&ctx->dests[i], &d))
			return;
	}
	if (ctx->n >= DELIVERY_MAX_DESTS)
		return;
	if (ctx->n == ctx->cap) {
		ctx->cap = ctx->cap == 0 ? 4 : ctx->cap * 2;
		ctx->dests = xreallocarray(ctx->dests, ctx->cap,
					   sizeof(*ctx->dests));
	}
	d.address = xstrdup(address);
	d.delivered_to = delivered_to != NULL ? xstrdup(delivered_to) : NULL;
	d.tag = tag != NULL ? xstrdup(tag) : NULL;
	d.via_alias = kind == DELIVERY_REMOTE && ctx->alias != NULL ?
		xstrdup(ctx->alias) : NULL;
	ctx->dests[ctx->n++] = d;
}

bool
delivery_dest_same(const struct delivery_dest *a, const struct delivery_dest *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == DELIVERY_LOCAL)
		return a->account_id == b->account_id;
	return strcasecmp(a->address, b->address) == 0;
}

/* Splits at the last '@' (a quoted local part may contain '@'). */
static bool
split_address(const char *address, char **local_r, const char **domain_r)
{
	const char *at = strrchr(address, '@');

	if (at == NULL || at == address || at[1] == '\0')
		return false;
	*local_r = xstrndup(address, (size_t)(at - address));
	*domain_r = at + 1;
	return true;
}

/* "base+tag@domain" from the account's canonical address. */
static char *
with_tag(const char *canonical, const char *tag)
{
	const char *at = strrchr(canonical, '@');

	if (tag == NULL || at == NULL)
		return xstrdup(canonical);
	return xasprintf("%.*s+%s%s", (int)(at - canonical), canonical, tag, at);
}

/* 1 found, 0 not found, -1 temporary failure. */
static int
try_user(struct resolve_ctx *ctx, const char *address, const char *tag)
{
	struct store_user *user = NULL;
	const char *error = NULL;
	enum store_result r = store_user_lookup(ctx->store, address, &user,
						&error);

	if (r == STORE_E_NOT_FOUND || r == STORE_E_INVALID)
		return 0;
	if (r != STORE_OK) {
		ctx->temp = true;
		ctx->error = error;
		return -1;
	}
	char *dt = with_tag(user->address, tag);
	dest_add(ctx, DELIVERY_LOCAL, user->id, user->address, dt, tag);
	free(dt);
	store_user_free(&user);
	return 1;
}

static void resolve_addr(struct resolve_ctx *ctx, const char *address,
			 unsigned depth, bool *found_r);

/* 1 found (targets resolved), 0 not found, -1 temporary failure. */
static int
try_alias(struct resolve_ctx *ctx, const char *address, unsigned depth)
{
	char **targets = NULL;
	size_t n = 0;
	const char *error = NULL;
	enum store_result r = store_alias_resolve(ctx->store, address, &targets,
						  &n, &error);
	bool any = false;

	if (r == STORE_E_NOT_FOUND || r == STORE_E_INVALID)
		return 0;
	if (r != STORE_OK) {
		ctx->temp = true;
		ctx->error = error;
		return -1;
	}
	for (size_t i = 0; i < n && !ctx->temp; i++) {
		const char *outer = ctx->alias;
		bool found = false;

		ctx->alias = address;
		resolve_addr(ctx, targets[i], depth + 1, &found);
		ctx->alias = outer;
		if (!found && !ctx->temp) {
			char tbuf[256], abuf[256];

			log_warn(NULL, "delivery", "alias-target-unknown",
				 "alias=<%s> target=<%s>",
				 log_str(abuf, sizeof(abuf), address),
				 log_str(tbuf, sizeof(tbuf), targets[i]));
		}
		any = any || found;
	}
	store_strv_free(&targets, n);
	if (ctx->temp)
		return -1;
	return any ? 1 : 0;
}

static void
resolve_addr(struct resolve_ctx *ctx, const char *address, unsigned depth,
	     bool *found_r)
{
	char *local = NULL, *base = NULL, *tag = NULL;
	const char *domain;

	*found_r = false;
	if (depth > DELIVERY_MAX_ALIAS_DEPTH) {
		char abuf[256];

		log_warn(NULL, "delivery", "alias-loop", "address=<%s>",
			 log_str(abuf, sizeof(abuf), address));
		return;
	}
	if (!split_address(address, &local, &domain))
		return;
	const char *error = NULL;
	enum store_result dr = store_domain_lookup(ctx->store, domain, &error);

	if (dr != STORE_OK && dr != STORE_E_NOT_FOUND) {
		ctx->temp = true;
		ctx->error = error;
		free(local);
		return;
	}
	if (dr == STORE_E_NOT_FOUND) {
		/* An alias target elsewhere: relay it. (The top level
		 * handles a non-local recipient itself.) */
		if (depth > 0) {
			dest_add(ctx, DELIVERY_REMOTE, 0, address, NULL, NULL);
			*found_r = true;
		}
		free(local);
		return;
	}

	int r = try_user(ctx, address, NULL);

	if (r == 0 && address_split_subaddress(local, NULL, &base, &tag)) {
		char *base_addr = xasprintf("%s@%s", base, domain);

		r = try_user(ctx, base_addr, tag);
		/* Aliases of the base address; the tag is not carried to
		 * alias targets. */
		if (r == 0)
			r = try_alias(ctx, base_addr, depth);
		free(base_addr);
	} else if (r == 0) {
		r = try_alias(ctx, address, depth);
	}
	*found_r = r == 1;
	free(local);
	free(base);
	free(tag);
}

static enum delivery_lookup
resolve(struct store *store, const char *address,
	struct delivery_dest **dests_r, size_t *count_r, const char **error_r)
{
	struct resolve_ctx ctx = { .store = store };
	char *local = NULL;
	const char *domain;
	bool found = false;

	*dests_r = NULL;
	*count_r = 0;
	if (error_r != NULL)
		*error_r = NULL;
	if (!split_address(address, &local, &domain))
		return DELIVERY_UNKNOWN;
	free(local);

	const char *error = NULL;
	enum store_result dr = store_domain_lookup(store, domain, &error);

	if (dr != STORE_OK && dr != STORE_E_NOT_FOUND) {
		/* Not knowing whether the domain is ours is no reason to
		 * refuse relaying (550 5.7.1): the caller answers 451. */
		if (error_r != NULL)
			*error_r = error;
		return DELIVERY_TEMP;
	}
	if (dr == STORE_E_NOT_FOUND) {
		dest_add(&ctx, DELIVERY_REMOTE, 0, address, NULL, NULL);
		*dests_r = ctx.dests;
		*count_r = ctx.n;
		return DELIVERY_NOT_LOCAL;
	}
	resolve_addr(&ctx, address, 0, &found);
	if (ctx.temp || !found || ctx.n == 0) {
		delivery_dests_free(&ctx.dests, ctx.n);
		if (ctx.temp) {
			if (error_r != NULL)
				*error_r = ctx.error;
			return DELIVERY_TEMP;
		}
		return DELIVERY_UNKNOWN;
	}
	*dests_r = ctx.dests;
	*count_r = ctx.n;
	return DELIVERY_FOUND;
}

enum delivery_lookup
delivery_resolve(struct store *store, const char *address,
		 struct delivery_dest **dests_r, size_t *count_r,
		 const char **error_r)
{
	uint64_t gen;
	bool cacheable = store_directory_generation(store, &gen);
	enum delivery_lookup r = resolve(store, address, dests_r, count_r,
					 error_r);

	if (cacheable)
		delivery_cache_put(store, gen, address, r, *dests_r, *count_r);
	return r;
}

void
delivery_dests_free(struct delivery_dest **dests, size_t count)
{
	if (*dests == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free((*dests)[i].address);
		free((*dests)[i].delivered_to);
		free((*dests)[i].tag);
		free((*dests)[i].via_alias);
	}
	xfree(dests);
}
