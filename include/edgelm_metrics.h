/* edgelm_metrics.h: OWNER FILLS IN. Part of <edgelm.h>; include that. */
#ifndef EDGELM_METRICS_H
#define EDGELM_METRICS_H

#include "edgelm.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* EDGELM_METRICS_H */
