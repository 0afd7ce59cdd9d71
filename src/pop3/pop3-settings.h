/* SPDX-License-Identifier: MIT */
/*
 * The [pop3] section of the configuration: limits and capabilities of the
 * POP3 server (struct config_pop3 in conf/config.h).
 */
#ifndef HERALD_POP3_SETTINGS_H
#define HERALD_POP3_SETTINGS_H

#include "conf/config.h"

extern const struct setting_section pop3_settings_section;

#endif
