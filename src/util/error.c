#include "tern/tern.h"

const char *tern_strerror(int err)
{
	switch (err) {
	case TERN_OK: return "success";
	case TERN_ENOMEM: return "out of memory";
	case TERN_EINVAL: return "invalid argument";
	case TERN_ESTATE: return "not allowed in the current state";
	case TERN_ECLOSED: return "closed";
	case TERN_EIO: return "input/output error";
	case TERN_EADDR: return "bad or unresolvable address";
	case TERN_ELIMIT: return "limit reached";
	}
	return "unknown error";
}

const char *tern_version(void)
{
	return TERN_VERSION_STRING;
}
