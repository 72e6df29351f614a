/* script-run: plays a parsed script (script.h) step by step as the
 * children's lines arrive.  It plays send, expect, sleep, close and wait;
 * a step of another kind fails the script as not supported yet.
 *
 * The runner knows nothing of processes or pipes: the harness tells it what
 * each child prints and when a child is gone, and it acts through ScriptHooks.
 */
#pragma once

#include <glib.h>

#include "script.h"

typedef struct {
  /* Queue text (newline included) for the child's stdin; FALSE with a reason
   * if the child can no longer take input. */
  gboolean (*send) (gpointer data, guint child, const char *text, gsize len,
                    GError **error);
  /* End-of-file on the child's stdin once what was queued is written. */
  void (*close_input) (gpointer data, guint child);
  /* The script ended: failure is NULL on success, else a report of one or
   * more lines (the step, its line, what the child printed last). */
  void (*finished) (gpointer data, const char *failure);
} ScriptHooks;

typedef struct ScriptRunner ScriptRunner;

ScriptRunner *script_runner_new (const Script *script, const char *const *names,
                                 const ScriptHooks *hooks, gpointer data);
void script_runner_free (ScriptRunner *runner);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScriptRunner, script_runner_free)

void script_runner_start (ScriptRunner *runner);
/* A line the child printed (without its newline), stdout or stderr. */
void script_runner_line (ScriptRunner *runner, guint child,
                         const char *line, gsize len);
/* The child exited and everything it printed has been passed in. */
void script_runner_child_gone (ScriptRunner *runner, guint child,
                               const char *how);
gboolean script_runner_running (ScriptRunner *runner);
/* Stops where it is, reporting nothing (the run is ending anyway). */
void script_runner_stop (ScriptRunner *runner);
