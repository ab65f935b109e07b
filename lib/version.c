/* version.c: which edgelm is linked (compare with the header's ELM_VERSION_NUMBER). */
#include "edgelm.h"

const char *elm_version(void) { return ELM_VERSION_STRING; }
int elm_version_number(void) { return ELM_VERSION_NUMBER; }
