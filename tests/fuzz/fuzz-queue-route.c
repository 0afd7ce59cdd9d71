/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the route parser of [transport] and relayhost values
 * (queue/queue-route.c). The first octet says relayhost or transport;
 * the rest is the value. A value that parses has a host or a path that
 * fits, a port in range, and a route key that fits its buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_route r;
	const char *err = NULL;
	char key[QUEUE_HOST_MAX + QUEUE_PATH_MAX + 32];
	char *text;

	if (size == 0 || size > 4096)
		return 0;
	text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (queue_route_parse(text, (data[0] & 1) != 0, &r, &err) == 0) {
		if (r.port == 0 || r.port > 65535)
			abort();
		if (r.kind == QUEUE_ROUTE_UNIX ? r.path[0] != '/' :
		    r.host[0] == '\0' || strlen(r.host) >= QUEUE_HOST_MAX)
			abort();
		queue_route_key(&r, key, sizeof(key));
	} else if (err == NULL) {
		abort();
	}
	free(text);
	return 0;
}
