/* report_svg.c: scatter plots written as SVG text; see report_svg.h.
 * Must not: print, open files, or emit text that is not escaped for XML.
 */
#include "report_svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { W = 760, H = 500, ML = 90, MR = 220, MT = 64, MB = 70 };

static const char *const palette[] = {
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
};

typedef struct axis {
    bool log;
    double lo, hi;               /* data range (log10 of it when log) */
    int pix0, pix1;              /* pixel positions of lo and hi */
} axis;

/* A label's box, to keep labels from covering each other. */
typedef struct box { double x0, y0, x1, y1; } box;

static bool overlaps(const box *a, const box *b) {
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* Place a label of len characters (10 px text) beside the point (x, y): the first of four
 * spots that stays inside the frame and clear of the labels already placed. */
static box place_label(double x, double y, size_t len, const box *placed, int n_placed, bool *anchor_end) {
    const double w = 5.6 * (double)len, h = 11;
    const double spots[4][2] = { { 7, -6 }, { 7, 14 }, { -7, -6 }, { -7, 14 } };
    box best = { x + 7, y - 6 - h + 2, x + 7 + w, y - 6 + 2 };
    *anchor_end = false;
    for (int k = 0; k < 4; k++) {
        bool end = spots[k][0] < 0;
        double bx = end ? x + spots[k][0] - w : x + spots[k][0], by = y + spots[k][1];
        box b = { bx, by - h + 2, bx + w, by + 2 };
        if (b.x0 < ML || b.x1 > W - MR || b.y0 < MT || b.y1 > H - MB) continue;
        bool clear = true;
        for (int i = 0; i < n_placed && clear; i++) clear = !overlaps(&b, &placed[i]);
        if (clear) { *anchor_end = end; return b; }
        if (k == 0) best = b;
    }
    return best;
}

static bool usable(double v, bool log) { return isfinite(v) && (!log || v > 0); }

static double tr(double v, bool log) { return log ? log10(v) : v; }

static double to_pix(const axis *a, double v) {
    double f = (tr(v, a->log) - a->lo) / (a->hi - a->lo);
    return a->pix0 + f * (a->pix1 - a->pix0);
}

/* Widen [lo, hi] a little, and make sure it is not empty. */
static void pad_range(axis *a) {
    double lo0 = a->lo;
    if (a->hi - a->lo < 1e-12 * (fabs(a->lo) + fabs(a->hi)) || a->hi <= a->lo) {
        double c = a->lo, d = a->log ? 0.5 : (fabs(c) > 0 ? fabs(c) * 0.5 : 1.0);
        a->lo = c - d;
        a->hi = c + d;
    } else {
        double d = (a->hi - a->lo) * 0.08;
        a->lo -= d;
        a->hi += d;
    }
    /* Padding must not invent negative values for data that has none. */
    if (!a->log && lo0 >= 0 && a->lo < 0) a->lo = 0;
}

/* A round step near span/target: 1, 2 or 5 times a power of ten. */
static double nice_step(double span, int target) {
    double raw = span / target;
    double p = pow(10, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void fmt_tick(char *buf, size_t cap, double v) {
    double a = fabs(v);
    if (a != 0 && (a >= 1e6 || a < 1e-3)) snprintf(buf, cap, "%.3g", v);
    else snprintf(buf, cap, "%.6g", v);
}

/* Tick values of an axis in data units (not log10), at most max of them. */
static int ticks(const axis *a, double *out, int max) {
    int n = 0;
    if (!a->log) {
        double step = nice_step(a->hi - a->lo, 6);
        for (double v = ceil(a->lo / step) * step; v <= a->hi + step * 1e-9 && n < max; v += step)
            out[n++] = fabs(v) < step * 1e-9 ? 0 : v;
        return n;
    }
    static const double mult[] = { 1, 2, 5 };
    if (a->hi - a->lo < log10(2.5)) {
        /* Less than a factor 2.5 in range: linear steps read better. */
        double lo = pow(10, a->lo), hi = pow(10, a->hi), step = nice_step(hi - lo, 4);
        for (double v = ceil(lo / step) * step; v <= hi && n < max; v += step) out[n++] = v;
        return n;
    }
    int k0 = (int)floor(a->lo), k1 = (int)ceil(a->hi);
    /* Many decades: label only the powers of ten. */
    int per = k1 - k0 > 4 ? 1 : 3;
    for (int k = k0; k <= k1; k++)
        for (int i = 0; i < per; i++) {
            double v = mult[i] * pow(10, k);
            double lv = log10(v);
            if (lv >= a->lo && lv <= a->hi && n < max) out[n++] = v;
        }
    return n;
}

void elmi_svg_scatter(elmi_textbuf *t, const elmi_plot *p) {
    axis ax = { p->log_x, INFINITY, -INFINITY, ML, W - MR };
    axis ay = { p->log_y, INFINITY, -INFINITY, H - MB, MT };
    int skipped = 0, drawn = 0;
    for (int i = 0; i < p->n_points; i++) {
        const elmi_plot_point *q = &p->points[i];
        if (!usable(q->x, ax.log) || !usable(q->y, ay.log)) { skipped++; continue; }
        double x = tr(q->x, ax.log), y = tr(q->y, ay.log);
        if (x < ax.lo) ax.lo = x;
        if (x > ax.hi) ax.hi = x;
        if (y < ay.lo) ay.lo = y;
        if (y > ay.hi) ay.hi = y;
        drawn++;
    }
    if (!drawn) { ax.lo = ay.lo = ax.log ? 0 : 0; ax.hi = ay.hi = 1; }
    pad_range(&ax);
    pad_range(&ay);

    elmi_textbuf_printf(t, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                           "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
    elmi_textbuf_puts(t, "<title>");
    elmi_textbuf_xml(t, p->title ? p->title : "");
    elmi_textbuf_puts(t, "</title>\n");
    elmi_textbuf_printf(t, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    elmi_textbuf_printf(t, "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">", ML);
    elmi_textbuf_xml(t, p->title ? p->title : "");
    elmi_textbuf_puts(t, "</text>\n");
    if (p->subtitle) {
        elmi_textbuf_printf(t, "<text x=\"%d\" y=\"44\" fill=\"#555\">", ML);
        elmi_textbuf_xml(t, p->subtitle);
        elmi_textbuf_puts(t, "</text>\n");
    }

    /* Frame, grid and ticks. */
    elmi_textbuf_printf(t, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n", ML, MT,
                        W - MR - ML, H - MB - MT);
    double tv[64];
    char lab[32];
    int n = ticks(&ax, tv, 64);
    for (int i = 0; i < n; i++) {
        double x = to_pix(&ax, tv[i]);
        fmt_tick(lab, sizeof lab, tv[i]);
        elmi_textbuf_printf(t, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                               "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                            x, MT, x, H - MB, x, H - MB + 18, lab);
    }
    n = ticks(&ay, tv, 64);
    for (int i = 0; i < n; i++) {
        double y = to_pix(&ay, tv[i]);
        fmt_tick(lab, sizeof lab, tv[i]);
        elmi_textbuf_printf(t, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                               "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                            ML, y, W - MR, y, ML - 6, y + 4, lab);
    }
    elmi_textbuf_printf(t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (ML + W - MR) / 2, H - MB + 42);
    elmi_textbuf_xml(t, p->x_label ? p->x_label : "");
    if (ax.log) elmi_textbuf_puts(t, " (log scale)");
    elmi_textbuf_puts(t, "</text>\n");
    elmi_textbuf_printf(t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 %d %d)\">", 24,
                        (MT + H - MB) / 2, 24, (MT + H - MB) / 2);
    elmi_textbuf_xml(t, p->y_label ? p->y_label : "");
    if (ay.log) elmi_textbuf_puts(t, " (log scale)");
    elmi_textbuf_puts(t, "</text>\n");

    /* Series: lines, then points with their labels. */
    box placed[256];
    int n_placed = 0;
    for (int s = 0; s < p->n_series; s++) {
        const char *colour = palette[s % (int)(sizeof palette / sizeof palette[0])];
        if (p->connect) {
            int k = 0;
            for (int i = 0; i < p->n_points; i++) {
                const elmi_plot_point *q = &p->points[i];
                if (q->series != s || !usable(q->x, ax.log) || !usable(q->y, ay.log)) continue;
                if (k++ == 0) elmi_textbuf_printf(t, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", colour);
                elmi_textbuf_printf(t, "%s%.1f,%.1f", k > 1 ? " " : "", to_pix(&ax, q->x), to_pix(&ay, q->y));
            }
            if (k) elmi_textbuf_puts(t, "\"/>\n");
        }
        for (int i = 0; i < p->n_points; i++) {
            const elmi_plot_point *q = &p->points[i];
            if (q->series != s || !usable(q->x, ax.log) || !usable(q->y, ay.log)) continue;
            double x = to_pix(&ax, q->x), y = to_pix(&ay, q->y);
            elmi_textbuf_printf(t, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\"><title>", x, y, colour);
            elmi_textbuf_xml(t, q->label ? q->label : "");
            elmi_textbuf_printf(t, " (%.4g, %.4g)</title></circle>\n", q->x, q->y);
            if (q->label) {
                bool end;
                box b = place_label(x, y, strlen(q->label), placed, n_placed, &end);
                if (n_placed < 256) placed[n_placed++] = b;
                elmi_textbuf_printf(t, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"%s\"%s>",
                                    end ? b.x1 : b.x0, b.y1 - 2, colour, end ? " text-anchor=\"end\"" : "");
                elmi_textbuf_xml(t, q->label);
                elmi_textbuf_puts(t, "</text>\n");
            }
        }
        int ly = MT + 10 + 20 * s;
        elmi_textbuf_printf(t, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">", W - MR + 18, ly,
                            colour, W - MR + 28, ly + 4);
        elmi_textbuf_xml(t, p->series[s] ? p->series[s] : "");
        elmi_textbuf_puts(t, "</text>\n");
    }
    if (!drawn || skipped) {
        elmi_textbuf_printf(t, "<text x=\"%d\" y=\"%d\" fill=\"#a00\">", ML, H - 8);
        if (!drawn) elmi_textbuf_puts(t, "no data to plot");
        else elmi_textbuf_printf(t, "%d point(s) without a usable value are not shown", skipped);
        elmi_textbuf_puts(t, "</text>\n");
    }
    elmi_textbuf_puts(t, "</svg>\n");
}
