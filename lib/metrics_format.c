/* metrics_format.c: an elm_metrics as human text or as one JSON object, into the caller's
 * buffer (snprintf semantics), so the library never needs stdio streams.
 * Must not: show an energy number without its status: estimates say "estimate", missing
 * figures say "unavailable" (text) or are null (JSON).
 */
#include <stdio.h>
#include <string.h>

#include "edgelm.h"
#include "textbuf.h"

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

static void energy_line(elmi_textbuf *t, const char *what, const elm_energy_figures *e) {
    if (e->status == ELM_FIGURE_UNAVAILABLE) {
        elmi_textbuf_printf(t, "  %-10s unavailable (%s)\n", what, e->note);
        return;
    }
    const char *tag = e->status == ELM_FIGURE_ESTIMATED ? " [ESTIMATE, not measured]" : "";
    elmi_textbuf_printf(t, "  %-10s %.4g J over %.3f s, %.3g W avg, %.4g J/token, %.4g tokens/J%s (%s)\n", what,
                        e->joules, e->seconds, e->avg_watts, e->joules_per_token, e->tokens_per_joule, tag, e->note);
}

ELM_API size_t elm_metrics_format(const elm_metrics *m, char *buf, size_t cap) {
    elmi_textbuf t;
    elmi_textbuf_fixed(&t, buf, cap);
    if (!m) return 0;
    elmi_textbuf_printf(&t, "time\n");
    elmi_textbuf_printf(&t, "  load       %.2f ms\n", m->load_seconds * 1e3);
    if (m->tokenize_calls)
        elmi_textbuf_printf(&t, "  tokenize   %.2f ms, %lld tokens in %lld calls\n", m->tokenize_seconds * 1e3,
                            (long long)m->tokenize_tokens, (long long)m->tokenize_calls);
    elmi_textbuf_printf(&t, "  prompt     %.2f ms, %lld tokens, %.2f tokens/s\n", m->prompt_seconds * 1e3,
                        (long long)m->prompt_tokens, m->prompt_tokens_per_second);
    if (m->ttft_seconds >= 0) elmi_textbuf_printf(&t, "  ttft       %.2f ms\n", m->ttft_seconds * 1e3);
    else elmi_textbuf_printf(&t, "  ttft       unavailable (no request has produced a token yet)\n");
    elmi_textbuf_printf(&t, "  generate   %.2f ms, %lld tokens, %.2f tokens/s\n", m->gen_seconds * 1e3,
                        (long long)m->gen_tokens, m->gen_tokens_per_second);
    if (m->sample_calls)
        elmi_textbuf_printf(&t, "  sample     %.2f ms in %lld calls\n", m->sample_seconds * 1e3, (long long)m->sample_calls);
    const elm_latency *l = &m->token_latency;
    if (l->count)
        elmi_textbuf_printf(&t, "  per token  p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (last %lld tokens)\n",
                            l->p50_seconds * 1e3, l->p90_seconds * 1e3, l->p99_seconds * 1e3, l->max_seconds * 1e3,
                            (long long)l->count);
    elmi_textbuf_printf(&t, "memory\n");
    elmi_textbuf_printf(&t, "  weights    %.2f MiB (%s %.2f MiB, resident %.2f MiB)", mib(m->weights_bytes),
                        m->weights_mapped_bytes ? "mapped" : "copied", mib(m->weights_mapped_bytes ? m->weights_mapped_bytes
                                                                                                  : m->weights_resident_bytes),
                        mib(m->weights_resident_bytes));
    if (m->repacked_bytes) elmi_textbuf_printf(&t, ", repacked %.2f MiB", mib(m->repacked_bytes));
    elmi_textbuf_printf(&t, "\n  context    %.2f MiB (KV %.2f MiB, scratch %.2f MiB)\n", mib(m->context_bytes),
                        mib(m->kv_bytes), mib(m->scratch_bytes));
    elmi_textbuf_printf(&t, "  process    RSS %.2f MiB, peak %.2f MiB\n", mib(m->rss_bytes), mib(m->peak_rss_bytes));
    elmi_textbuf_printf(&t, "energy (%s)\n", m->energy_source);
    energy_line(&t, "prompt", &m->prompt_energy);
    energy_line(&t, "generate", &m->gen_energy);
    return t.need;
}

static void json_energy(elmi_textbuf *t, const char *key, const elm_energy_figures *e) {
    elmi_textbuf_printf(t, "\"%s\":{\"status\":\"%s\",", key, elm_figure_status_name(e->status));
    bool ok = e->status != ELM_FIGURE_UNAVAILABLE;
    const char *names[] = { "joules", "seconds", "avg_watts", "joules_per_token", "tokens_per_joule" };
    double vals[] = { e->joules, e->seconds, e->avg_watts, e->joules_per_token, e->tokens_per_joule };
    for (int i = 0; i < 5; i++) {
        elmi_textbuf_printf(t, "\"%s\":", names[i]);
        if (ok) elmi_textbuf_json_number(t, vals[i], 9);
        else elmi_textbuf_puts(t, "null");
        elmi_textbuf_puts(t, ",");
    }
    elmi_textbuf_printf(t, "\"tokens\":%lld,\"note\":", (long long)e->tokens);
    elmi_textbuf_json_string(t, e->note);
    elmi_textbuf_puts(t, "}");
}

ELM_API size_t elm_metrics_format_json(const elm_metrics *m, char *buf, size_t cap) {
    elmi_textbuf t;
    elmi_textbuf_fixed(&t, buf, cap);
    if (!m) return 0;
    elmi_textbuf_puts(&t, "{");
    struct { const char *k; double v; } secs[] = {
        { "load_seconds", m->load_seconds }, { "tokenize_seconds", m->tokenize_seconds },
        { "prompt_seconds", m->prompt_seconds }, { "gen_seconds", m->gen_seconds },
        { "sample_seconds", m->sample_seconds }, { "prompt_tokens_per_second", m->prompt_tokens_per_second },
        { "gen_tokens_per_second", m->gen_tokens_per_second },
    };
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        elmi_textbuf_printf(&t, "\"%s\":", secs[i].k);
        elmi_textbuf_json_number(&t, secs[i].v, 9);
        elmi_textbuf_puts(&t, ",");
    }
    elmi_textbuf_puts(&t, "\"ttft_seconds\":");
    if (m->ttft_seconds >= 0) elmi_textbuf_json_number(&t, m->ttft_seconds, 9);
    else elmi_textbuf_puts(&t, "null");
    elmi_textbuf_printf(&t, ",\"tokenize_tokens\":%lld,\"prompt_tokens\":%lld,\"gen_tokens\":%lld,\"sample_calls\":%lld,",
                        (long long)m->tokenize_tokens, (long long)m->prompt_tokens, (long long)m->gen_tokens,
                        (long long)m->sample_calls);
    elmi_textbuf_printf(&t, "\"decode_calls\":%lld,", (long long)m->decode_calls);
    const elm_latency *l = &m->token_latency;
    elmi_textbuf_printf(&t, "\"token_latency\":{\"count\":%lld", (long long)l->count);
    const char *ln[] = { "mean_seconds", "p50_seconds", "p90_seconds", "p99_seconds", "max_seconds" };
    double lv[] = { l->mean_seconds, l->p50_seconds, l->p90_seconds, l->p99_seconds, l->max_seconds };
    for (int i = 0; i < 5; i++) {
        elmi_textbuf_printf(&t, ",\"%s\":", ln[i]);
        if (l->count) elmi_textbuf_json_number(&t, lv[i], 9);
        else elmi_textbuf_puts(&t, "null");
    }
    elmi_textbuf_puts(&t, "},");
    struct { const char *k; uint64_t v; } bytes[] = {
        { "weights_bytes", m->weights_bytes }, { "weights_mapped_bytes", m->weights_mapped_bytes },
        { "weights_resident_bytes", m->weights_resident_bytes }, { "repacked_bytes", m->repacked_bytes },
        { "kv_bytes", m->kv_bytes }, { "scratch_bytes", m->scratch_bytes }, { "context_bytes", m->context_bytes },
        { "rss_bytes", m->rss_bytes }, { "peak_rss_bytes", m->peak_rss_bytes },
    };
    for (size_t i = 0; i < sizeof bytes / sizeof bytes[0]; i++)
        elmi_textbuf_printf(&t, "\"%s\":%llu,", bytes[i].k, (unsigned long long)bytes[i].v);
    elmi_textbuf_puts(&t, "\"energy_source\":");
    elmi_textbuf_json_string(&t, m->energy_source);
    elmi_textbuf_puts(&t, ",");
    json_energy(&t, "prompt_energy", &m->prompt_energy);
    elmi_textbuf_puts(&t, ",");
    json_energy(&t, "gen_energy", &m->gen_energy);
    elmi_textbuf_puts(&t, "}");
    return t.need;
}
