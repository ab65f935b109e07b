/* memory_usage.c: what the process holds in RAM: resident set now and at its peak
 * (/proc/self/status, getrusage), and how much of a mapping is resident (mincore).
 * Must not: allocate (mincore's vector is a fixed stack buffer walked in steps).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "edgelm.h"
#include "error.h"

/* "VmRSS:     1234 kB" -> bytes; false when the key is absent. */
static bool status_field(const char *text, const char *key, uint64_t *out) {
    const char *p = strstr(text, key);
    if (!p) return false;
    p += strlen(key);
    unsigned long long kb;
    if (sscanf(p, " %llu kB", &kb) != 1) return false;
    *out = (uint64_t)kb * 1024u;
    return true;
}

ELM_API elm_status elm_get_process_memory(elm_process_memory *out) {
    if (!out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_get_process_memory: NULL out");
    elm_process_memory r = { 0, 0 };
    char text[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        if (n > 0) {
            text[n] = '\0';
            status_field(text, "\nVmRSS:", &r.rss_bytes);
            status_field(text, "\nVmHWM:", &r.peak_rss_bytes);
        }
    }
    if (r.peak_rss_bytes == 0) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0) r.peak_rss_bytes = (uint64_t)ru.ru_maxrss * 1024u;  /* kB on Linux */
    }
    if (r.peak_rss_bytes == 0 && r.rss_bytes == 0)
        return elmi_error(ELM_ERR_UNSUPPORTED, "process memory: neither /proc/self/status nor getrusage gave a figure");
    if (r.peak_rss_bytes < r.rss_bytes) r.peak_rss_bytes = r.rss_bytes;
    *out = r;
    return ELM_OK;
}

ELM_API elm_status elm_reset_peak_memory(void) {
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return elmi_error(ELM_ERR_UNSUPPORTED, "cannot reset the peak RSS: /proc/self/clear_refs: %s", strerror(errno));
    ssize_t n = write(fd, "5", 1);
    int err = errno;
    close(fd);
    if (n != 1) return elmi_error(ELM_ERR_UNSUPPORTED, "cannot reset the peak RSS: writing clear_refs: %s", strerror(err));
    return ELM_OK;
}

ELM_API elm_status elm_resident_bytes(const void *addr, size_t len, uint64_t *out) {
    if (!out || (!addr && len)) return elmi_error(ELM_ERR_INVALID_ARG, "elm_resident_bytes: NULL %s", out ? "address" : "out");
    long page_l = sysconf(_SC_PAGESIZE);
    size_t page = page_l > 0 ? (size_t)page_l : 4096;
    uintptr_t start = (uintptr_t)addr & ~(uintptr_t)(page - 1);
    uintptr_t end = (uintptr_t)addr + len;
    if (end < (uintptr_t)addr) return elmi_error(ELM_ERR_INVALID_ARG, "elm_resident_bytes: range wraps around");
    unsigned char vec[4096];
    uint64_t resident = 0;
    for (uintptr_t p = start; p < end;) {
        size_t pages = (end - p + page - 1) / page;
        if (pages > sizeof vec) pages = sizeof vec;
        if (mincore((void *)p, pages * page, vec) != 0)
            return elmi_error(ELM_ERR_IO, "mincore at %p (%zu pages): %s", (void *)p, pages, strerror(errno));
        for (size_t i = 0; i < pages; i++) {
            if (!(vec[i] & 1)) continue;
            /* Count only the part of the first and last pages inside the range. */
            uintptr_t a = p + i * page, b = a + page;
            if (a < (uintptr_t)addr) a = (uintptr_t)addr;
            if (b > end) b = end;
            resident += b - a;
        }
        p += pages * page;
    }
    *out = resident;
    return ELM_OK;
}
