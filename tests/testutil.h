/* testutil: what the test programs of every stage share.
 *
 * - a private temporary folder per test, removed with everything in it;
 * - TuProc: a built program started with its stdin, stdout and stderr on
 *   pipes, its output collected (with arrival times) while the test waits on
 *   the main loop, every wait bounded by a time limit that fails the test and
 *   kills the process instead of hanging;
 * - small FIFO helpers that never block the test itself.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A fresh folder, mode 0700, under $TMPDIR; tu_tmpdir_remove() deletes it
 * and everything below it. */
char *tu_tmpdir_new (void);
void tu_tmpdir_remove (const char *dir);

/* Microseconds on the monotonic clock. */
gint64 tu_now_us (void);

/* Spin the default main context for about ms milliseconds. */
void tu_sleep_ms (guint ms);

/* One read from a process's stdout or stderr: when it arrived and how many
 * bytes it brought (the bytes themselves are in the collected output). */
typedef struct {
  gint64 at_us;
  gsize end; /* offset just past the chunk in the collected output */
} TuChunk;

typedef struct TuProc TuProc;

typedef enum {
  TU_PROC_DEFAULT = 0,
  TU_PROC_STDIN_INHERIT = 1 << 0, /* stdin is /dev/null instead of a pipe */
  TU_PROC_STDOUT_DISCARD = 1 << 1, /* stdout is /dev/null, not collected */
  /* stdin is a new pseudo-terminal, the controlling terminal of a session
   * the process leads (so its process group is the foreground one); the
   * test holds the master side: tu_proc_terminal(). */
  TU_PROC_STDIN_TERMINAL = 1 << 2,
} TuProcFlags;

/* Starts argv (argv[0] a path) in cwd (NULL: ours) with extra environment
 * entries "NAME=VALUE" (NULL: none).  Fails the test if it cannot start. */
TuProc *tu_proc_start_full (const char *const *argv,
                            const char *cwd,
                            const char *const *extra_env,
                            TuProcFlags flags);
TuProc *tu_proc_start (const char *first_arg, ...) G_GNUC_NULL_TERMINATED;

GPid tu_proc_pid (TuProc *proc);
/* The master side of its terminal (TU_PROC_STDIN_TERMINAL), or -1. */
int tu_proc_terminal (TuProc *proc);
void tu_proc_write (TuProc *proc, const char *text);
void tu_proc_close_stdin (TuProc *proc);
void tu_proc_signal (TuProc *proc, int signum);
gboolean tu_proc_running (TuProc *proc);

/* Collected output so far (NUL-terminated GStrings, bytes unchanged). */
GString *tu_proc_stdout (TuProc *proc);
GString *tu_proc_stderr (TuProc *proc);
/* When the first stdout byte at or past offset arrived, or -1. */
gint64 tu_proc_stdout_arrival (TuProc *proc, gsize offset);

/* Wait until stdout (or stderr) contains needle; FALSE after timeout_ms,
 * with a test failure that shows what did arrive. */
gboolean tu_proc_wait_stdout (TuProc *proc, const char *needle, guint timeout_ms);
gboolean tu_proc_wait_stderr (TuProc *proc, const char *needle, guint timeout_ms);

/* Wait for the process to exit and both pipes to reach end-of-file.  Returns
 * the exit status, 128+N if killed by signal N, or -1 after timeout_ms (the
 * process is then killed and the test fails). */
int tu_proc_wait (TuProc *proc, guint timeout_ms);

/* Kills the process if it still runs, then frees everything. */
void tu_proc_free (TuProc *proc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TuProc, tu_proc_free)

/* Start argv, feed it input (may be NULL), wait at most timeout_ms; returns
 * the status as tu_proc_wait() does and the collected output. */
int tu_run (const char *const *argv, const char *input, guint timeout_ms,
            char **out, char **err);

/* Open a FIFO without ever blocking the test: the read end at once
 * (O_NONBLOCK, then made blocking again unless nonblocking), the write end
 * retried until a reader exists or timeout_ms passed (-1 and a test failure). */
int tu_fifo_open_read (const char *path, gboolean nonblocking);
int tu_fifo_open_write (const char *path, guint timeout_ms);

/* Read fd (non-blocking is fine) until end-of-file, recording arrival times.
 * Returns FALSE and fails the test if timeout_ms passes first. */
gboolean tu_read_until_eof (int fd, guint timeout_ms, GString *data, GArray *chunks);

/* Make a FIFO at path, mode 0600, asserting success. */
void tu_mkfifo (const char *path);

/* Count the occurrences of needle in haystack. */
guint tu_count (const char *haystack, const char *needle);

G_END_DECLS
