/* What every fuzz target shares: an invariant that breaks stops the run
 * with a trap libFuzzer reports (and keeps the input of). */
#ifndef TERN_FUZZ_CHECK_H
#define TERN_FUZZ_CHECK_H

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond))                                                               \
			__builtin_trap();                                                  \
	} while (0)

#endif
