/* SPDX-License-Identifier: MIT */
/*
 * The [imap] section of the configuration (imap-settings.c).
 */
#ifndef HERALD_IMAP_SETTINGS_H
#define HERALD_IMAP_SETTINGS_H

#include "conf/config.h"

extern const struct setting_section imap_settings_section;

/* Whether word[0..len) is a capability [imap] capabilities_hide may name
 * (imap-commands.c): any Herald announces but IMAP4rev1 and the login
 * ones (STARTTLS, LOGINDISABLED, AUTH=...), case-insensitively. */
bool imap_capability_hideable(const char *word, size_t len);

#endif
