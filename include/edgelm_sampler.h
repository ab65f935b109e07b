/* edgelm_sampler.h: OWNER FILLS IN. Part of <edgelm.h>; include that. */
#ifndef EDGELM_SAMPLER_H
#define EDGELM_SAMPLER_H

#include "edgelm.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* EDGELM_SAMPLER_H */
