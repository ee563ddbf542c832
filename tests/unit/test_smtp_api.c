/* The embedding API's contract (include/tern/smtp.h): the versioned options
 * struct, callbacks that answer something other than the three decisions,
 * tern_smtp_session_close() from inside callbacks, and session references
 * kept past the close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_session.h"

/* ---- 4. options ABI ---------------------------------------------------- */

/* The first released layout ends with log_level (include/tern/smtp.h). */
#define V1_SIZE (offsetof(tern_smtp_options, log_level) + sizeof(((tern_smtp_options *)0)->log_level))

static void test_options_init_sets_size(void **state)
{
	(void)state;
	tern_smtp_options o;

	memset(&o, 0x5a, sizeof(o));
	tern_smtp_options_init(&o);
	assert_int_equal(o.struct_size, sizeof(o));
	assert_int_equal(o.size, 25u * 1024 * 1024);
	assert_int_equal(o.max_line_length, 2048);
	assert_int_equal(o.log_level, TERN_LOG_INFO);
	assert_null(o.callbacks.on_connect);
	assert_null(o.user_data);
	for (size_t i = 0; i < sizeof(o.callbacks.reserved) / sizeof(o.callbacks.reserved[0]); i++)
		assert_null(o.callbacks.reserved[i]);
}

/* Never initialised (struct_size 0) or smaller than the first layout. */
static void test_options_size_too_small(void **state)
{
	(void)state;
	tern_smtp_options o;
	tern_smtp_server *srv = (tern_smtp_server *)&o;

	memset(&o, 0, sizeof(o));
	o.name = "mx.test";
	assert_int_equal(tern_smtp_server_new(&srv, &o), TERN_EINVAL);
	assert_null(srv);

	tern_smtp_options_init(&o);
	o.name = "mx.test";
	o.struct_size = V1_SIZE - 1;
	assert_int_equal(tern_smtp_server_new(&srv, &o), TERN_EINVAL);
	o.struct_size = sizeof(size_t);
	assert_int_equal(tern_smtp_server_new(&srv, &o), TERN_EINVAL);
	o.struct_size = sizeof(o);
	assert_int_equal(tern_smtp_server_new(&srv, &o), 0);
	tern_smtp_server_destroy(&srv);
	assert_null(srv);
}

/* A program compiled against the first layout: its struct is only V1_SIZE
 * bytes (a heap block of exactly that size, so ASan and valgrind catch any
 * read past it), and every field it does not know takes its default. */
static void test_options_older_caller_gets_defaults(void **state)
{
	(void)state;
	tern_smtp_options def;
	tern_smtp_options_init(&def);

	tern_smtp_options *old = malloc(V1_SIZE);
	assert_non_null(old);
	tern_smtp_options_init_sized(old, V1_SIZE);
	assert_int_equal(old->struct_size, V1_SIZE);
	old->name = "mx.test";
	old->size = 1234;
	old->log_level = TERN_LOG_DEBUG;

	tern_smtp_server *srv = NULL;
	assert_int_equal(tern_smtp_server_new(&srv, old), 0);
	tern_smtp_server_destroy(&srv);

	struct tern__smtp_config cfg;
	assert_int_equal(tern__smtp_config_init(&cfg, old), 0);
	assert_string_equal(cfg.opts.name, "mx.test");
	assert_int_equal(cfg.opts.size, 1234);
	assert_int_equal(cfg.opts.log_level, TERN_LOG_DEBUG);
	assert_int_equal(cfg.opts.struct_size, sizeof(tern_smtp_options));
	/* Every field appended after the first layout: the defaults. */
	assert_memory_equal((const char *)&cfg.opts + V1_SIZE, (const char *)&def + V1_SIZE,
			    sizeof(def) - V1_SIZE);
	tern__smtp_config_free(&cfg);
	free(old);

	/* The same with a full-size struct whose tail is garbage: bytes past
	 * struct_size are never read. */
	tern_smtp_options o;
	tern_smtp_options_init(&o);
	o.name = "mx.test";
	memset((char *)&o + V1_SIZE, 0xa5, sizeof(o) - V1_SIZE);
	o.struct_size = V1_SIZE;
	assert_int_equal(tern__smtp_config_init(&cfg, &o), 0);
	assert_memory_equal((const char *)&cfg.opts + V1_SIZE, (const char *)&def + V1_SIZE,
			    sizeof(def) - V1_SIZE);
	tern__smtp_config_free(&cfg);
}

/* A program compiled against a newer, larger layout: fields this library
 * does not know are fine while unset (zero), refused once set. */
static void test_options_newer_caller(void **state)
{
	(void)state;
	size_t big = sizeof(tern_smtp_options) + 64;
	unsigned char *mem = malloc(big);
	assert_non_null(mem);
	memset(mem, 0x77, big);
	tern_smtp_options *o = (tern_smtp_options *)mem;

	tern_smtp_options_init_sized(o, big);
	assert_int_equal(o->struct_size, big);
	for (size_t i = sizeof(tern_smtp_options); i < big; i++)
		assert_int_equal(mem[i], 0);
	o->name = "mx.test";
	tern_smtp_server *srv = NULL;
	assert_int_equal(tern_smtp_server_new(&srv, o), 0);
	tern_smtp_server_destroy(&srv);

	mem[big - 1] = 1;
	assert_int_equal(tern_smtp_server_new(&srv, o), TERN_EINVAL);
	assert_null(srv);
	free(mem);

	/* NULL and a size that cannot even hold struct_size are ignored. */
	tern_smtp_options_init_sized(NULL, sizeof(tern_smtp_options));
	tern_smtp_options small;
	memset(&small, 0, sizeof(small));
	tern_smtp_options_init_sized(&small, 1);
	assert_int_equal(small.struct_size, 0);
}

int main(void)
{
	const struct CMUnitTest abi[] = {
		cmocka_unit_test(test_options_init_sets_size),
		cmocka_unit_test(test_options_size_too_small),
		cmocka_unit_test(test_options_older_caller_gets_defaults),
		cmocka_unit_test(test_options_newer_caller),
	};
	return cmocka_run_group_tests_name("smtp api: options ABI", abi, NULL, NULL);
}
