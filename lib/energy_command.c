/* energy_command.c: the command energy source: /bin/sh -c COMMAND prints watts, one number
 * per line (a Raspberry Pi 5 PMIC reading through vcgencmd and awk, a USB power meter's
 * CLI, ...). A command that exits is started again every interval; one that keeps printing
 * is read line by line. A thread of its own reads it and feeds the readings in.
 * Must not: block elm_energy_read (it only takes the lock), keep using a reading once the
 * command has stopped giving new ones (reads then fail: see stale_seconds), or leave a
 * child process behind.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "energy.h"

extern char **environ;

typedef struct command_state {
    char *command;
    int last_exit;               /* wait status of the last run, -1 before any */
    uint64_t bad_lines;          /* lines without a number */
} command_state;

/* The first number in a line ("power: 4.2 W" -> 4.2); false when there is none. */
static bool parse_watts(const char *line, double *out) {
    for (const char *p = line; *p; p++) {
        bool starts = isdigit((unsigned char)*p) ||
                      ((*p == '-' || *p == '+' || *p == '.') && isdigit((unsigned char)p[1])) ||
                      ((*p == '-' || *p == '+') && p[1] == '.' && isdigit((unsigned char)p[2]));
        if (!starts) continue;
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v)) return false;
        *out = v;
        return true;
    }
    return false;
}

static pid_t spawn_command(const char *command, int *read_fd) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* Its own process group, so stopping it also stops whatever it started (sleep, ...). */
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    char *argv[] = { "sh", "-c", (char *)command, NULL };
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) { close(fds[0]); return -1; }
    *read_fd = fds[0];
    return pid;
}

/* Feed one line of output (lock not held). */
static void take_line(elm_energy_source *s, const char *line) {
    command_state *cs = s->impl;
    double w;
    pthread_mutex_lock(&s->lock);
    if (parse_watts(line, &w)) {
        uint64_t now = elmi_now_ns();
        elmi_energy_power(&s->ch[0], w, now);
        s->last_sample_ns = now;
        s->n_samples++;
        s->error[0] = '\0';
        pthread_cond_broadcast(&s->cond);
    } else {
        cs->bad_lines++;
    }
    pthread_mutex_unlock(&s->lock);
}

static void *command_thread(void *arg) {
    elm_energy_source *s = arg;
    command_state *cs = s->impl;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        bool stop = s->stop;
        pthread_mutex_unlock(&s->lock);
        if (stop) break;
        uint64_t started = elmi_now_ns();
        int fd = -1;
        pid_t pid = spawn_command(cs->command, &fd);
        if (pid < 0) {
            pthread_mutex_lock(&s->lock);
            snprintf(s->error, sizeof s->error, "cannot start /bin/sh: %s", strerror(errno));
            pthread_mutex_unlock(&s->lock);
        } else {
            char line[256];
            size_t len = 0;
            bool killed = false;
            for (;;) {
                pthread_mutex_lock(&s->lock);
                stop = s->stop;
                pthread_mutex_unlock(&s->lock);
                if (stop) { kill(-pid, SIGTERM); killed = true; break; }
                struct pollfd pf = { fd, POLLIN, 0 };
                int pr = poll(&pf, 1, 50);
                if (pr < 0 && errno != EINTR) break;
                if (pr <= 0) continue;
                char buf[256];
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) break;
                for (ssize_t i = 0; i < n; i++) {
                    if (buf[i] == '\n' || len == sizeof line - 1) {
                        line[len] = '\0';
                        take_line(s, line);
                        len = 0;
                        if (buf[i] == '\n') continue;
                    }
                    line[len++] = buf[i];
                }
            }
            if (len > 0 && !killed) { line[len] = '\0'; take_line(s, line); }
            close(fd);
            /* The command closed its output: give it a moment to exit. Its group is ended
               before the leader is reaped, so the group id cannot belong to anyone else. */
            siginfo_t si;
            for (int i = 0; i < 100; i++) {
                memset(&si, 0, sizeof si);
                if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid) break;
                if (i == 50) kill(-pid, SIGTERM);
                usleep(2000);
            }
            kill(-pid, SIGKILL);
            int status = 0;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            pthread_mutex_lock(&s->lock);
            cs->last_exit = status;
            if (!killed && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
                snprintf(s->error, sizeof s->error, "the command %s %d", WIFEXITED(status) ? "exited with status" : "was killed by signal",
                         WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? WTERMSIG(status) : -1);
            pthread_mutex_unlock(&s->lock);
        }
        /* Run again one interval after the last start. */
        pthread_mutex_lock(&s->lock);
        uint64_t next = started + (uint64_t)(s->interval_seconds * 1e9);
        struct timespec ts = { (time_t)(next / 1000000000u), (long)(next % 1000000000u) };
        while (!s->stop && elmi_now_ns() < next)
            if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT) break;
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

static void command_destroy(elm_energy_source *s) {
    command_state *cs = s->impl;
    if (cs) free(cs->command);
    free(cs);
    s->impl = NULL;
}

static const elmi_energy_ops command_ops = { NULL, command_destroy, command_thread };

elm_status elmi_energy_open_command(const char *command, const elm_energy_params *p, elm_energy_source **out) {
    char name[160];
    snprintf(name, sizeof name, "cmd: %s", command);
    elm_energy_source *s = elmi_energy_new(name, &command_ops);
    command_state *cs = calloc(1, sizeof *cs);
    if (s) s->impl = cs;
    if (!s || !cs || !(cs->command = strdup(command)) || !elmi_energy_add_channel(s, ELM_ENERGY_POWER, "command")) {
        elm_energy_free(s);
        if (!s) free(cs);
        return elmi_error(ELM_ERR_NOMEM, "energy command: out of memory");
    }
    cs->last_exit = -1;
    double interval = p->interval_seconds > 0 ? p->interval_seconds : 0.1;
    /* Starting a process costs far more than reading sysfs: no faster than 50 per second. */
    if (interval < 0.02) interval = 0.02;
    s->stale_seconds = 10 * interval > 2.0 ? 10 * interval : 2.0;
    elm_status st = elmi_energy_start(s, interval);
    if (st != ELM_OK) { elm_energy_free(s); return st; }
    /* Wait for the first reading: a command that gives none is no source. */
    uint64_t deadline = elmi_now_ns() + (uint64_t)(p->first_sample_timeout_seconds * 1e9);
    struct timespec ts = { (time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u) };
    pthread_mutex_lock(&s->lock);
    while (s->n_samples == 0 && elmi_now_ns() < deadline)
        if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT) break;
    bool ok = s->n_samples > 0;
    char why[ELMI_ERRMSG_BYTES];
    snprintf(why, sizeof why, "%s", s->error[0] ? s->error : "it printed nothing");
    uint64_t bad = cs->bad_lines;
    pthread_mutex_unlock(&s->lock);
    if (!ok) {
        elm_energy_free(s);
        return elmi_error(ELM_ERR_IO, "energy command '%s' gave no number of watts within %.1f s (%s%s)", command,
                          p->first_sample_timeout_seconds, why, bad ? "; its lines had no number" : "");
    }
    *out = s;
    return ELM_OK;
}
