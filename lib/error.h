/* error.h: how the library reports failures (internal).
 *
 * Every failing path calls elmi_error(status, fmt, ...) which formats one human sentence
 * into the calling thread's slot (read by elm_last_error()) and returns the status, so
 * code reads:  return elmi_error(ELM_ERR_FORMAT, "%s: tensor '%s' ...", path, name);
 * Handles that keep their own message copy it with elmi_error_copy().
 * Must not: print anything (only elmi_log does, through the user's callback).
 */
#ifndef ELM_ERROR_H
#define ELM_ERROR_H

#include "edgelm.h"

#if defined(__GNUC__)
#define ELMI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ELMI_PRINTF(a, b)
#endif

#define ELMI_ERRMSG_BYTES 512

elm_status elmi_error(elm_status s, const char *fmt, ...) ELMI_PRINTF(2, 3);
/* Copy the calling thread's last message into a handle's buffer (ELMI_ERRMSG_BYTES). */
void elmi_error_copy(char *dst);
/* Clear the calling thread's last message. */
void elmi_error_clear(void);

/* Log through the user's callback (no-op when none is installed). */
void elmi_log(elm_log_level level, const char *fmt, ...) ELMI_PRINTF(2, 3);

#endif
