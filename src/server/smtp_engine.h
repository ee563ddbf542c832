/* The SMTP/LMTP server engine seen through the net layer's interface
 * (net/conn_engine.h): the one place that knows both. */
#ifndef TERN_SERVER_SMTP_ENGINE_H
#define TERN_SERVER_SMTP_ENGINE_H

#include "net/conn_engine.h"
#include "smtp/engine.h"

/* What a listener hands the adapter as its engine_ctx. */
struct tern__smtp_engine_ctx {
	const struct tern__smtp_config *cfg;
	const struct tern__smtp_listener *listener;
};

extern const struct tern__conn_engine tern__smtp_conn_engine;

#endif
