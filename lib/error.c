/* error.c: status names, the per-thread last-error sentence, and the log callback.
 * Must not: allocate (errors are reported when memory has run out). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[ELMI_ERRMSG_BYTES];

static const struct { const char *name, *text; } status_table[] = {
    [ELM_OK] = {"ELM_OK", "success"},
    [ELM_ERR_INVALID_ARG] = {"ELM_ERR_INVALID_ARG", "invalid argument"},
    [ELM_ERR_IO] = {"ELM_ERR_IO", "input/output error"},
    [ELM_ERR_FORMAT] = {"ELM_ERR_FORMAT", "malformed or truncated file"},
    [ELM_ERR_UNSUPPORTED] = {"ELM_ERR_UNSUPPORTED", "not supported"},
    [ELM_ERR_NOMEM] = {"ELM_ERR_NOMEM", "out of memory"},
    [ELM_ERR_NOT_FOUND] = {"ELM_ERR_NOT_FOUND", "not found"},
    [ELM_ERR_TYPE] = {"ELM_ERR_TYPE", "value has another type"},
    [ELM_ERR_CONTEXT_FULL] = {"ELM_ERR_CONTEXT_FULL", "context full"},
    [ELM_ERR_INVALID_TEXT] = {"ELM_ERR_INVALID_TEXT", "invalid UTF-8 text"},
    [ELM_ERR_CANCELLED] = {"ELM_ERR_CANCELLED", "cancelled"},
    [ELM_ERR_INTERNAL] = {"ELM_ERR_INTERNAL", "internal error (a bug in edgelm)"},
};

const char *elm_status_name(elm_status s) {
    if ((unsigned)s < sizeof status_table / sizeof status_table[0]) return status_table[s].name;
    return "ELM_ERR_UNKNOWN";
}

const char *elm_status_string(elm_status s) {
    if ((unsigned)s < sizeof status_table / sizeof status_table[0]) return status_table[s].text;
    return "unknown status code";
}

const char *elm_last_error(void) { return last_error; }

elm_status elmi_error(elm_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

void elmi_error_copy(char *dst) { memcpy(dst, last_error, ELMI_ERRMSG_BYTES); }
void elmi_error_clear(void) { last_error[0] = '\0'; }

static elm_log_fn log_fn;
static void *log_user;

void elm_set_log_callback(elm_log_fn fn, void *user) {
    log_fn = fn;
    log_user = user;
}

void elmi_log(elm_log_level level, const char *fmt, ...) {
    if (!log_fn) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_fn(level, buf, log_user);
}
