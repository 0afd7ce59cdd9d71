/* SPDX-License-Identifier: MIT */
/*
 * The [imap] section of the configuration (imap-settings.c).
 */
#ifndef HERALD_IMAP_SETTINGS_H
#define HERALD_IMAP_SETTINGS_H

#include "conf/config.h"

extern const struct setting_section imap_settings_section;

#endif
