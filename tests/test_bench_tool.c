/* test_bench_tool.c: edgelm-bench, briefly, on stories260K: -o json is valid JSON with
 * llama-bench's field names and ours, figures consistent with each other (avg_ts is the
 * mean of samples_ts; KV bytes by hand); energy numbers only when a source gave them;
 * -o csv and md; --report writes a Markdown table and well-formed SVG plots (checked by
 * our XML checker and, independently, by python3's xml.dom.minidom).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "support.h"
#include "syntax_check.h"

/* Run a shell command; its stdout in a malloc'd string; *rc its exit status. */
static char *run(const char *cmd, int *rc) {
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += k;
        if (n + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[n] = '\0';
    int st = pclose(p);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return buf;
}

static char *bench(const char *args, int *rc) {
    static char cmd[16384];
    snprintf(cmd, sizeof cmd, "%.4000s -m '%.4000s' %.6000s 2>/dev/null", elmt_bin("edgelm-bench"),
             elmt_shared("models/stories260K.gguf"), args);
    return run(cmd, rc);
}

/* The text of "key": value inside [obj, end), value up to , or newline; NULL if absent. */
static bool get(const char *obj, const char *end, const char *key, char *out, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(obj, pat);
    if (!p || p >= end) return false;
    p += strlen(pat);
    size_t n = 0;
    if (*p == '[') {
        while (*p && *p != ']' && n + 2 < cap) out[n++] = *p++;
        out[n++] = ']';
    } else {
        while (*p && *p != '\n' && !(*p == ',' && p[1] == '\n') && n + 1 < cap) out[n++] = *p++;
    }
    out[n] = '\0';
    return true;
}

static double num(const char *obj, const char *end, const char *key) {
    char v[512];
    assert_true(get(obj, end, key, v, sizeof v));
    char *e;
    double d = strtod(v, &e);
    assert_true(e != v);
    return d;
}

static bool is_null(const char *obj, const char *end, const char *key) {
    char v[512];
    assert_true(get(obj, end, key, v, sizeof v));
    return strcmp(v, "null") == 0;
}

static void json_has_llama_bench_fields_and_ours(void **state) {
    (void)state;
    int rc;
    char *out = bench("-p 16 -n 8 -t 1,2 -r 2 -o json -q --energy estimate:5", &rc);
    assert_int_equal(rc, 0);
    size_t where = 0;
    if (!elmt_json_valid(out, strlen(out), &where)) fprintf(stderr, "invalid JSON at %zu:\n%s\n", where, out);
    assert_true(elmt_json_valid(out, strlen(out), NULL));
    assert_true(out[0] == '[');
    static const char *const fields[] = { "model_filename", "model_type", "model_size", "n_threads", "n_prompt", "n_gen",
                                          "avg_ts", "stddev_ts", "samples_ts", "samples_ns", "avg_ns", "load_ms",
                                          "ttft_ms", "peak_rss_bytes", "kv_bytes", "energy_j", "j_per_token",
                                          "energy_source", "energy_status" };
    int objects = 0, pp = 0, tg = 0;
    for (const char *obj = strstr(out, "  {"); obj; obj = strstr(obj + 1, "  {")) {
        const char *end = strstr(obj, "\n  }");
        assert_non_null(end);
        objects++;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            char v[512];
            if (!get(obj, end, fields[i], v, sizeof v)) fprintf(stderr, "missing field %s\n", fields[i]);
            assert_true(get(obj, end, fields[i], v, sizeof v));
        }
        int n_prompt = (int)num(obj, end, "n_prompt"), n_gen = (int)num(obj, end, "n_gen");
        assert_true((n_prompt == 16 && n_gen == 0) || (n_prompt == 0 && n_gen == 8));
        pp += n_prompt > 0;
        tg += n_gen > 0;
        /* avg_ts is the mean of the samples, each n_tokens / seconds. */
        char v[512];
        assert_true(get(obj, end, "samples_ts", v, sizeof v));
        double a = 0, b = 0;
        assert_int_equal(sscanf(v, "[ %lf, %lf ]", &a, &b), 2);
        assert_true(a > 0 && b > 0);
        assert_true(fabs(num(obj, end, "avg_ts") - (a + b) / 2) < 1e-3 * (a + b));
        assert_true(get(obj, end, "samples_ns", v, sizeof v));
        double na = 0, nb = 0;
        assert_int_equal(sscanf(v, "[ %lf, %lf ]", &na, &nb), 2);
        assert_true(fabs(a - 1e9 * (n_prompt + n_gen) / na) < 1e-3 * a);
        /* stories260K: 5 layers x 4 KV heads x 16 (K+V of 8) halves x 2 bytes per position */
        assert_int_equal((int64_t)num(obj, end, "kv_bytes"), 5 * 4 * 16 * 2 * (n_prompt + n_gen));
        assert_true(num(obj, end, "peak_rss_bytes") > 1e6);
        assert_true(num(obj, end, "model_size") > 1e6 && num(obj, end, "load_ms") > 0);
        if (n_prompt) assert_true(num(obj, end, "ttft_ms") > 0);
        else assert_true(is_null(obj, end, "ttft_ms"));
        /* An estimate is a number, and says it is one. */
        double j = num(obj, end, "energy_j");
        assert_true(j > 0);
        assert_true(fabs(num(obj, end, "j_per_token") - j / (n_prompt + n_gen)) < 1e-6 * j + 1e-12);
        assert_true(get(obj, end, "energy_status", v, sizeof v));
        assert_string_equal(v, "\"estimated\"");
        assert_true(get(obj, end, "energy_source", v, sizeof v));
        assert_non_null(strstr(v, "estimate"));
        assert_true(get(obj, end, "model_filename", v, sizeof v));
        assert_non_null(strstr(v, "stories260K.gguf"));
    }
    assert_int_equal(objects, 4);
    assert_int_equal(pp, 2);
    assert_int_equal(tg, 2);
    free(out);

    /* Without a source: null, and energy_source says why. */
    out = bench("-p 8 -n 4 -t 1 -r 1 -o json -q --energy none", &rc);
    assert_int_equal(rc, 0);
    assert_true(elmt_json_valid(out, strlen(out), NULL));
    const char *obj = strstr(out, "  {"), *end = strstr(obj, "\n  }");
    assert_true(is_null(obj, end, "energy_j"));
    assert_true(is_null(obj, end, "j_per_token"));
    char v[512];
    assert_true(get(obj, end, "energy_status", v, sizeof v));
    assert_string_equal(v, "\"unavailable\"");
    assert_true(get(obj, end, "energy_source", v, sizeof v));
    assert_non_null(strstr(v, "none"));
    free(out);
}

static void csv_and_markdown(void **state) {
    (void)state;
    int rc;
    char *out = bench("-p 8 -n 4 -t 1 -r 1 -o csv -q --energy none", &rc);
    assert_int_equal(rc, 0);
    assert_true(strncmp(out, "model_filename,model_type,model_size,", 37) == 0);
    int lines = 0;
    for (const char *p = out; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 3);
    assert_non_null(strstr(out, "\"unavailable\""));
    free(out);
    out = bench("-p 8 -n 4 -t 1 -r 1 -q --energy none", &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "| model |"));
    assert_non_null(strstr(out, "| pp8 |"));
    assert_non_null(strstr(out, "| tg4 |"));
    assert_non_null(strstr(out, "n/a"));
    free(out);
    out = bench("-p 8 -o yaml", &rc);
    assert_int_equal(rc, 2);
    free(out);
    /* No model at all. */
    static char cmd[8192];
    snprintf(cmd, sizeof cmd, "%.4000s -p 8 2>/dev/null", elmt_bin("edgelm-bench"));
    out = run(cmd, &rc);
    assert_int_equal(rc, 2);
    free(out);
}

static void check_svg(const char *dir, const char *name) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t size = 0;
    char *svg = elmt_read_file(path, &size);
    if (!svg) fprintf(stderr, "missing %s\n", path);
    assert_non_null(svg);
    size_t where = 0;
    if (!elmt_xml_well_formed(svg, size, &where)) fprintf(stderr, "%s: not well-formed at byte %zu\n", name, where);
    assert_true(elmt_xml_well_formed(svg, size, NULL));
    assert_non_null(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_non_null(strstr(svg, "<circle"));
    free(svg);
    /* An independent parser. */
    char cmd[8500];
    snprintf(cmd, sizeof cmd, "python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static void report_writes_table_and_plots(void **state) {
    (void)state;
    const char *tmp = elmt_tmpdir();
    assert_non_null(tmp);
    char dir[4096], args[12288];
    snprintf(dir, sizeof dir, "%s/report", tmp);
    /* Two models x two thread counts, an estimated power figure and a perplexity text. */
    snprintf(args, sizeof args, "-m '%.4000s' -p 16 -n 8 -t 1,2 -r 1 -q --energy estimate:3 --report '%.4000s' "
             "--ppl-text '%.3000s' --ppl-ctx 64 --ppl-chunks 2 -o json",
             elmt_shared("models/stories260K-f16.gguf"), dir, elmt_shared("golden/ppl-text-gpl3.txt"));
    int rc;
    char *out = bench(args, &rc);
    assert_int_equal(rc, 0);
    assert_true(elmt_json_valid(out, strlen(out), NULL));
    assert_non_null(strstr(out, "\"ppl\": "));
    assert_null(strstr(out, "\"ppl\": null"));
    free(out);
    check_svg(dir, "speed_vs_memory.svg");
    check_svg(dir, "speed_vs_energy.svg");
    check_svg(dir, "ppl_vs_size.svg");
    char path[4200];
    snprintf(path, sizeof path, "%s/report.md", dir);
    char *md = elmt_read_file(path, NULL);
    assert_non_null(md);
    assert_non_null(strstr(md, "| model |"));
    assert_non_null(strstr(md, "ESTIMATE"));
    assert_non_null(strstr(md, "speed_vs_memory.svg"));
    assert_non_null(strstr(md, "ppl_vs_size.svg"));
    free(md);
    snprintf(path, sizeof path, "%s/results.json", dir);
    size_t n = 0;
    char *json = elmt_read_file(path, &n);
    assert_non_null(json);
    assert_true(elmt_json_valid(json, n, NULL));
    free(json);

    /* No energy source: no energy plot, and the report says why instead of guessing. */
    snprintf(dir, sizeof dir, "%s/report-none", tmp);
    snprintf(args, sizeof args, "-p 8 -n 4 -t 1 -r 1 -q --energy none --report '%.4000s'", dir);
    out = bench(args, &rc);
    assert_int_equal(rc, 0);
    free(out);
    check_svg(dir, "speed_vs_memory.svg");
    snprintf(path, sizeof path, "%s/speed_vs_energy.svg", dir);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/report.md", dir);
    md = elmt_read_file(path, NULL);
    assert_non_null(md);
    assert_non_null(strstr(md, "Unavailable"));
    free(md);
}

static void checkers_catch_broken_documents(void **state) {
    (void)state;
    /* The checkers themselves must reject what is broken, or the tests above prove nothing. */
    static const char *const bad_xml[] = {
        "<svg><g></svg></g>", "<svg a=\"1\" a=\"2\"/>", "<svg>&nbsp;</svg>", "<svg><text>a < b</text></svg>",
        "<svg x=1/>", "<svg></svg><svg></svg>", "<svg>", "text<svg/>",
    };
    for (size_t i = 0; i < sizeof bad_xml / sizeof bad_xml[0]; i++)
        assert_false(elmt_xml_well_formed(bad_xml[i], strlen(bad_xml[i]), NULL));
    const char *good = "<?xml version=\"1.0\"?>\n<svg a='1' b=\"&amp;&#38;&#x26;\"><!-- c --><t>x &lt; y</t><e/></svg>\n";
    assert_true(elmt_xml_well_formed(good, strlen(good), NULL));
    static const char *const bad_json[] = { "[1,]", "{\"a\":1,}", "{a:1}", "[01]", "\"\\x\"", "[1] [2]", "nul", "[1.]", "" };
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++)
        assert_false(elmt_json_valid(bad_json[i], strlen(bad_json[i]), NULL));
    const char *gj = " {\"a\": [1, -2.5e3, true, null, \"\\u00e9\\n\"], \"b\": {}} ";
    assert_true(elmt_json_valid(gj, strlen(gj), NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checkers_catch_broken_documents),
        cmocka_unit_test(json_has_llama_bench_fields_and_ours),
        cmocka_unit_test(csv_and_markdown),
        cmocka_unit_test(report_writes_table_and_plots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
