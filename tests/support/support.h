/* support.h: small helpers shared by the cmocka suites (not part of the library).
 * Tests find ../shared through $SHARED (default "../shared", relative to the project root,
 * which is where tests/run.sh runs them). A missing shared file FAILS the test: nothing
 * is skipped silently. */
#ifndef ELM_TEST_SUPPORT_H
#define ELM_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* "$SHARED/rel" in a static rotating buffer (8 slots). */
const char *elmt_shared(const char *rel);
/* "$BIN/name" (tools built beside the tests; default build/bin). */
const char *elmt_bin(const char *name);
/* Read a whole file; NULL if it cannot be read. Caller frees. */
void *elmt_read_file(const char *path, size_t *size);
/* True under ELM_TEST_QUICK=1 (sanitizer runs): suites may use fewer random cases. */
bool elmt_quick(void);
/* Deterministic xorshift64* generator for test data. */
uint64_t elmt_rand_u64(uint64_t *state);
float elmt_rand_uniform(uint64_t *state);   /* [-1, 1) */
float elmt_rand_normal(uint64_t *state);    /* mean 0, sd 1 */
/* The JSON string value of "key" in a golden file (escapes decoded), or NULL. Caller
 * frees. Enough JSON for the files in ../shared/golden, not a general parser. */
char *elmt_json_string(const char *json, const char *key);
/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp); not removed. */
const char *elmt_tmpdir(void);

#endif
