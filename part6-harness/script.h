/* script: the --script language, parsed whole before anything starts, and
 * the runner that plays it step by step as the children's lines arrive.
 *
 *   send NAME TEXT…          TEXT and a newline to NAME's stdin; ${var} expanded
 *   expect NAME /REGEX/ [T]  wait for a line from NAME matching REGEX
 *   sleep T                  T like 250ms, 2s, 1.5s
 *   close NAME               end-of-file on NAME's stdin
 *   wait NAME [T]            wait for NAME to exit
 *
 * The runner knows nothing of processes or pipes: the harness tells it what
 * each child prints and when a child is gone, and it acts through ScriptHooks.
 */
#pragma once

#include <glib.h>

#define SCRIPT_DEFAULT_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define SCRIPT_MAX_TIMEOUT_US ((gint64) 24 * 3600 * G_USEC_PER_SEC)

typedef enum {
  STEP_SEND,
  STEP_EXPECT,
  STEP_SLEEP,
  STEP_CLOSE,
  STEP_WAIT,
} StepKind;

typedef struct {
  StepKind kind;
  guint line_no;     /* 1-based line of the script file */
  char *source;      /* the step as written, for messages */
  guint child;       /* the child it names (all but sleep) */
  char *text;        /* send: the text, ${var} not yet expanded */
  GRegex *regex;     /* expect: for lines that are valid UTF-8 */
  GRegex *regex_raw; /* expect: byte-wise, for lines that are not (may be NULL) */
  GStrv groups;      /* expect: its named groups, set as variables on a match */
  gint64 timeout_us; /* expect, sleep, wait */
} ScriptStep;

typedef struct {
  char *path;
  GPtrArray *steps; /* of ScriptStep */
} Script;

#define SCRIPT_ERROR (script_error_quark ())
GQuark script_error_quark (void);

/* Parses the script text; every problem (unknown step or child, bad regex,
 * bad or absurd duration, variable that nothing defines) is an error naming
 * "PATH:LINE". names: the children's names, NULL-terminated. */
Script *script_parse (const char *path, const char *text, gsize length,
                      const char *const *names, GError **error);
Script *script_load (const char *path, const char *const *names, GError **error);
void script_free (Script *script);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Script, script_free)

/* "250ms", "2s", "1.5s" → microseconds, within 0 … SCRIPT_MAX_TIMEOUT_US. */
gboolean script_parse_duration (const char *text, gint64 *us, GError **error);

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
