/* syntax_check.h: small strict checkers for the JSON and XML (SVG) that edgelm's tools
 * write, so tests can tell well-formed output from broken without external programs. */
#ifndef ELM_TEST_SYNTAX_CHECK_H
#define ELM_TEST_SYNTAX_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* True when text[0..len) is exactly one JSON value (RFC 8259) with only whitespace
 * around it. On failure, *where (if given) is the byte offset of the problem. */
bool elmt_json_valid(const char *text, size_t len, size_t *where);
/* True when text is a well-formed XML document: one root element, every tag closed in
 * order, attributes quoted and unique per element, only the five predefined entities or
 * character references, no '<' or bare '&' in text or attribute values. */
bool elmt_xml_well_formed(const char *text, size_t len, size_t *where);

#endif
