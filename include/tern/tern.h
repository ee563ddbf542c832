/* Tern: common definitions shared by every public header.
 *
 * Errors are negative TERN_E* values; 0 is success. Library code never aborts
 * the process on out-of-memory: it returns TERN_ENOMEM and the caller survives. */
#ifndef TERN_TERN_H
#define TERN_TERN_H

#ifdef __cplusplus
extern "C" {
#endif

#define TERN_VERSION_MAJOR 0
#define TERN_VERSION_MINOR 1
#define TERN_VERSION_PATCH 0
#define TERN_VERSION_STRING "0.1.0"

enum tern_error {
	TERN_OK = 0,
	TERN_ENOMEM = -1,   /* an allocation failed */
	TERN_EINVAL = -2,   /* an argument or option is invalid */
	TERN_ESTATE = -3,   /* the call is not allowed in the object's current state */
	TERN_ECLOSED = -4,  /* the session or server is closed */
	TERN_EIO = -5,      /* a system call failed; errno has the detail */
	TERN_EADDR = -6,    /* a listen address could not be parsed or resolved */
	TERN_ELIMIT = -7,   /* a configured limit was reached */
};

/* Returns a static, human-readable description of a TERN_E* value (or
 * "unknown error"). Never returns NULL. */
const char *tern_strerror(int err);

/* Returns TERN_VERSION_STRING of the library actually linked. */
const char *tern_version(void);

#ifdef __cplusplus
}
#endif
#endif
