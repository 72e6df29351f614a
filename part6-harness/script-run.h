/* script-run: plays a parsed script step by step as the children's lines
 * and ends arrive, and gives the verdict.
 *
 * The runner knows nothing of processes or pipes: the harness tells it what
 * each child prints, when a child's process starts, becomes ready and ends,
 * and the runner acts through ScriptHooks.  It keeps, per child, the window
 * of lines an expect searches (the lines since the last match, at most
 * match_max bytes of them, newlines included) and the last few lines for
 * failure reports.
 *
 * Verdicts: a step that fails, or a child that ends abnormally (killed by a
 * signal, or exiting non-zero) while the script runs, fails the script,
 * unless the script asked for that end (a close or restart of that child
 * before it, or a signal that ends processes, and then an exit or death by
 * that signal) or a wait step accepts it.
 */
#pragma once

#include <glib.h>

#include "script.h"

#define SCRIPT_DEFAULT_MATCH_MAX (1024 * 1024)

typedef struct {
  /* Queue bytes for the child's stdin; FALSE with a reason if it cannot
   * take input, G_IO_ERROR_WOULD_BLOCK if not now: the step then waits for
   * script_runner_input_room(). */
  gboolean (*send) (gpointer data, guint child, const char *text, gsize len,
                    GError **error);
  /* End-of-file on the child's stdin once what was queued is written. */
  void (*close_input) (gpointer data, guint child);
  /* Start the child (held, or ended); the harness then calls
   * script_runner_child_started() and, once it is up,
   * script_runner_child_ready(). */
  gboolean (*start) (gpointer data, guint child, GError **error);
  /* Send signum to the child's process group. */
  gboolean (*signal) (gpointer data, guint child, int signum, GError **error);
  /* Stop the child as at the end of a run, then start it again (as start). */
  gboolean (*restart) (gpointer data, guint child, GError **error);
  /* The script ended: failure is NULL on success, else a report of one or
   * more lines (the step, its line, what the child printed last). */
  void (*finished) (gpointer data, const char *failure);
} ScriptHooks;

typedef struct ScriptRunner ScriptRunner;

/* vars: variables known before the script starts (captured by --ready),
 * copied; may be NULL.  match_max: the window's bound in bytes. */
ScriptRunner *script_runner_new (const Script *script, const char *const *names,
                                 GHashTable *vars, gsize match_max,
                                 const ScriptHooks *hooks, gpointer data);
void script_runner_free (ScriptRunner *runner);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScriptRunner, script_runner_free)

void script_runner_start (ScriptRunner *runner);
gboolean script_runner_running (ScriptRunner *runner);
/* Stops where it is, reporting nothing (the run is ending anyway). */
void script_runner_stop (ScriptRunner *runner);

/* A line the child printed (without its newline), stdout or stderr. */
void script_runner_line (ScriptRunner *runner, guint child,
                         const char *line, gsize len);
/* A new process of the child runs: its window starts empty. */
void script_runner_child_started (ScriptRunner *runner, guint child);
/* It is up: its --ready line, if it has one, was seen. */
void script_runner_child_ready (ScriptRunner *runner, guint child);
/* Its process ended (status: exit status, or 128+N with term_signal N) and
 * everything it printed has been passed in. */
void script_runner_child_ended (ScriptRunner *runner, guint child, int status,
                                int term_signal);
/* What to say when a step fails on the child and it printed nothing (its
 * output may wait in its own buffer); copied; NULL for nothing. */
void script_runner_set_silence_hint (ScriptRunner *runner, guint child,
                                     const char *hint);
/* Whether the script asked for the child's process to end this way (killed
 * by term_signal, or 0 for an exit): after a close or restart any end, after
 * a signal that ends processes an exit or that signal. */
gboolean script_runner_end_asked (ScriptRunner *runner, guint child, int term_signal);
/* The child's input queue has room again. */
void script_runner_input_room (ScriptRunner *runner, guint child);
/* A variable captured outside the script (by a --ready pattern). */
void script_runner_set_var (ScriptRunner *runner, const char *name,
                            const char *value);
/* Something the harness watches went wrong (a child not up in time): the
 * script fails with why, at the step that runs. */
void script_runner_abort (ScriptRunner *runner, const char *why);
/* The same, reporting what every child printed last (the whole run took
 * too long: any of them may be why). */
void script_runner_abort_all (ScriptRunner *runner, const char *why);
