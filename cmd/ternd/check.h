/* ternd --check-config: the checks that need the file system and the user
 * database, after parsing has collected its own problems. */
#ifndef TERND_CHECK_H
#define TERND_CHECK_H

#include "config.h"

/* Adds to cfg->problems each file ternd would fail to read (certificates,
 * keys, client CA, users file), a --user that does not exist or cannot be
 * taken (not root), and a --maildir or --state-dir that is not a
 * directory. Listeners are not bound: a running ternd holds them, and
 * checking a configuration must work beside it. */
void ternd_check_files(struct ternd_config *cfg);

#endif
