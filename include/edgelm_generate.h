/* edgelm_generate.h: OWNER FILLS IN. Part of <edgelm.h>; include that. */
#ifndef EDGELM_GENERATE_H
#define EDGELM_GENERATE_H

#include "edgelm.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* EDGELM_GENERATE_H */
