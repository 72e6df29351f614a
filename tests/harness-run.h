/* harness-run: what the pipe-harness integration tests share: starting the
 * built tool in a private folder (its XDG_RUNTIME_DIR, so that its own
 * private folder lands there and can be checked for), reading what it
 * reports on stderr, and checks on processes and folders.
 *
 * PIPE_HARNESS and HARNESS_CHILD are the paths of the built tool and of
 * tests/harness-child, given by meson. */
#pragma once

#include "testutil.h"

#define WAIT_MS 10000

typedef struct {
  char *tmp;      /* private temporary folder: the harness's XDG_RUNTIME_DIR */
  TuProc *proc;
} Run;

/* "HARNESS_CHILD args": a command line for harness-child. */
char *child (const char *args);

void run_init (Run *run);
void run_clear (Run *run);
/* Starts pipe-harness with args (NULL-terminated) in run->tmp, with extra
 * environment entries "NAME=VALUE" (NULL: none), and G_DEBUG=fatal-warnings
 * so that a GLib warning or critical aborts it. */
void run_start_full (Run *run, const char *const *extra_env, const char *const *args);
/* The same with flags (TU_PROC_STDOUT_DISCARD: its output not kept). */
void run_start_full_flags (Run *run, const char *const *extra_env, TuProcFlags flags,
                           const char *const *args);
void run_start_argv (Run *run, const char *const *args);
#define run_start(run, ...)                                                    \
  G_STMT_START {                                                               \
    const char *args_[] = { __VA_ARGS__, NULL };                               \
    run_start_argv ((run), args_);                                             \
  } G_STMT_END
int run_wait (Run *run);
/* Ends a harness that would run on: SIGTERM, status 143, and its private
 * folder gone. */
void run_stop (Run *run);
const char *run_out (Run *run);
const char *run_err (Run *run);

/* The value printed on stderr after "NAME<what>" up to the end of line. */
char *stderr_value (Run *run, const char *name, const char *what);
/* The input FIFO and the pid the harness reported for child name. */
char *fifo_of (Run *run, const char *name);
GPid pid_of (Run *run, const char *name);

/* Alive, and not a zombie. */
gboolean pid_alive (GPid pid);
/* Gone, allowing an orphan a moment to be reaped. */
void assert_gone (GPid pid);
/* Nothing but the names in keep (NULL-terminated, or NULL) is in folder. */
void assert_folder_holds (const char *folder, const char *const *keep);

/* One writer: open the FIFO, write text, close. */
void write_fifo (const char *path, const char *text);
void write_file (const char *dir, const char *name, const char *text);
