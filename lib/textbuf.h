/* textbuf.h: append formatted text to a buffer (internal).
 *
 * Two modes: over a caller's fixed buffer (snprintf semantics: the text is cut at the
 * capacity, always NUL-terminated, and `need` keeps counting what the whole text takes), or
 * growing a malloc'd buffer (for files such as SVG reports). Used by the metrics formatter
 * and the report writers so none of them touches stdio.
 * Must not: print, or be used on a per-token path (it formats).
 */
#ifndef ELM_TEXTBUF_H
#define ELM_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef struct elmi_textbuf {
    char *buf;          /* the text so far (NUL-terminated when cap > 0) */
    size_t cap;         /* bytes of buf */
    size_t len;         /* bytes written into buf (excluding the NUL) */
    size_t need;        /* bytes the whole text needs (excluding the NUL) */
    bool growable;      /* buf is ours and grows with realloc */
    bool failed;        /* an allocation failed: the text is incomplete */
} elmi_textbuf;

/* Over a caller's buffer (buf may be NULL when cap is 0). */
void elmi_textbuf_fixed(elmi_textbuf *t, char *buf, size_t cap);
/* A growing buffer; release with elmi_textbuf_free (or take t->buf and free it yourself). */
void elmi_textbuf_growing(elmi_textbuf *t);
void elmi_textbuf_free(elmi_textbuf *t);

void elmi_textbuf_printf(elmi_textbuf *t, const char *fmt, ...) ELMI_PRINTF(2, 3);
void elmi_textbuf_puts(elmi_textbuf *t, const char *s);
/* s with the characters XML gives meaning to (& < > " ') written as entities. */
void elmi_textbuf_xml(elmi_textbuf *t, const char *s);
/* s as a JSON string, quotes included (control characters and non-ASCII bytes kept valid). */
void elmi_textbuf_json_string(elmi_textbuf *t, const char *s);
/* A finite double as JSON (%.*g), or null when it is NaN or infinite. */
void elmi_textbuf_json_number(elmi_textbuf *t, double v, int digits);

#endif
