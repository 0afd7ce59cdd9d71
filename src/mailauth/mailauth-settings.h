/* SPDX-License-Identifier: MIT */
/*
 * The [mailauth] section of the configuration (mailauth-settings.c): the
 * limits of SPF checks, DKIM signing and verification (dkim_*); DMARC
 * keys join it.
 */
#ifndef HERALD_MAILAUTH_SETTINGS_H
#define HERALD_MAILAUTH_SETTINGS_H

#include "conf/config.h"

struct spf_limits;

extern const struct setting_section mailauth_settings_section;

/* The SPF limits of a loaded config. */
void spf_limits_from_config(const struct config_mailauth *cfg,
			    struct spf_limits *lim_r);

#endif
