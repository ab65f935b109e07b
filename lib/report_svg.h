/* report_svg.h: scatter plots as standalone SVG text, for edgelm-bench's trade-off report
 * (internal; bench/bench.c is its user).
 *
 * One plot = points (x, y, label, series); each series gets a colour and a legend entry
 * and, when connect is set, a line through its points in the order given. Axes are linear
 * or logarithmic with "nice" ticks (1, 2, 5 x 10^k). The output opens in any browser and
 * is well-formed XML: every text is escaped.
 * Must not: print or touch files (the caller writes the text where it wants).
 */
#ifndef ELM_REPORT_SVG_H
#define ELM_REPORT_SVG_H

#include <stdbool.h>

#include "textbuf.h"

typedef struct elmi_plot_point {
    double x, y;
    const char *label;           /* drawn beside the point; NULL for none */
    int series;                  /* index into elmi_plot.series */
} elmi_plot_point;

typedef struct elmi_plot {
    const char *title;
    const char *subtitle;        /* a line under the title (e.g. what the energy is); or NULL */
    const char *x_label, *y_label;
    bool log_x, log_y;
    bool connect;                /* join each series' points with a line */
    const char *const *series;   /* names, n_series of them */
    int n_series;
    const elmi_plot_point *points;
    int n_points;
} elmi_plot;

/* Append the SVG document. Points that cannot be drawn (NaN, or <= 0 on a log axis) are
 * left out and counted in a note at the bottom, never moved. */
void elmi_svg_scatter(elmi_textbuf *t, const elmi_plot *p);

#endif
