/* script: the --script language, and its parser.  A script is parsed whole
 * before anything starts; every problem is an error naming "PATH:LINE".
 *
 *   send NAME TEXT           TEXT exactly as written after the one space that
 *                            follows NAME (leading blanks kept), plus newline
 *   write NAME TEXT          TEXT with C escapes (\n \r \t \\ \xHH), no newline
 *   expect NAME /RE/ [T] [unless /BAD/]
 *   refute NAME /RE/ T       no line of NAME matches RE for T
 *   fail-on NAME /RE/        from here on such a line fails the script;
 *   fail-on NAME none        clears it
 *   sleep T
 *   close NAME               end-of-file on NAME's stdin
 *   start NAME               start a held child, or again one that exited
 *   signal NAME SIG          TERM, INT, KILL, HUP, USR1, STOP, CONT… or a number
 *   restart NAME [T]         stop it, wait for it, start it again
 *   wait NAME [exit N | signal SIG | any] [T]      default: exit 0
 *   set VAR VALUE            VALUE (expanded) becomes ${VAR}
 *   repeat N … end           N times, ${i} = 0…N-1; may nest; N may be ${var}
 *
 * T is a duration: a bare number of seconds, or with ms or s ("250ms",
 * "1.5s", "2").  ${var} is expanded (when the step runs) in TEXT, VALUE, N
 * and in patterns, where a value stands for itself (its characters are not
 * regex syntax); "$${" is a literal "${".  Comments are lines whose first
 * non-blank character is '#'.  Running is script-run.h's business.
 */
#pragma once

#include <glib.h>

#include "match.h"

#define SCRIPT_DEFAULT_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define SCRIPT_MAX_TIMEOUT_US ((gint64) 24 * 3600 * G_USEC_PER_SEC)

typedef enum {
  STEP_SEND,
  STEP_WRITE,
  STEP_EXPECT,
  STEP_REFUTE,
  STEP_FAIL_ON,
  STEP_SLEEP,
  STEP_CLOSE,
  STEP_START,
  STEP_SIGNAL,
  STEP_RESTART,
  STEP_WAIT,
  STEP_SET,
  STEP_REPEAT,
  STEP_END,
} StepKind;

/* What a wait step accepts as the child's end.  (Not WAIT_ANY: that is
 * <sys/wait.h>'s macro for waitpid.) */
typedef enum {
  WAIT_EXIT,    /* exit with status wait_value */
  WAIT_SIGNAL,  /* killed by signal wait_value */
  WAIT_ANY_END, /* any end */
} WaitAccept;

/* A regex as written, compiled at parse time unless it holds ${var}. */
typedef struct {
  char *source;     /* between the slashes */
  Pattern *pattern; /* NULL when source holds ${var}: compiled when run */
} ScriptRegex;

typedef struct {
  StepKind kind;
  guint line_no;       /* 1-based line of the script file */
  char *source;        /* the step as written, for messages */
  guint child;         /* the child it names (not sleep, set, repeat, end) */
  char *text;          /* send, write (escapes not yet decoded), set: the
                        * value, repeat: the count; ${var} not yet expanded */
  char *var;           /* set: the variable's name */
  ScriptRegex regex;   /* expect, refute, fail-on (source NULL: none) */
  ScriptRegex unless;  /* expect: source NULL when there is no unless */
  int signum;          /* signal */
  WaitAccept accept;   /* wait */
  int wait_value;      /* wait: the exit status or the signal number */
  gint64 timeout_us;   /* expect, refute, sleep, restart, wait */
  guint jump;          /* repeat: index of its end; end: of its repeat */
} ScriptStep;

typedef struct {
  char *path;
  GPtrArray *steps; /* of ScriptStep */
} Script;

#define SCRIPT_ERROR (script_error_quark ())
GQuark script_error_quark (void);

/* Parses the script text.  names: the children's names; vars: variables
 * that exist before the script starts besides the environment's (the named
 * groups of --ready patterns); both NULL-terminated, vars may be NULL. */
Script *script_parse (const char *path, const char *text, gsize length,
                      const char *const *names, const char *const *vars,
                      GError **error);
Script *script_load (const char *path, const char *const *names,
                     const char *const *vars, GError **error);
void script_free (Script *script);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Script, script_free)

/* Whether a step of this kind names a child (all but sleep, set, repeat,
 * end). */
gboolean script_step_has_child (StepKind kind);

/* A child's name: letters, digits, _ and -, this many at most. */
#define SCRIPT_CHILD_NAME_MAX 64
gboolean script_valid_child_name (const char *name);
/* A variable's name: a letter or _, then letters, digits and _. */
gboolean script_is_variable_name (const char *name, gsize len);

/* The words of a step: blanks are spaces and tabs; script_next_word()
 * splits off the next word of *rest (newly allocated) and leaves *rest at
 * the blank or end after it. */
gboolean script_is_blank (char c);
const char *script_skip_blanks (const char *p);
char *script_next_word (const char **rest);

/* "250ms", "2s", "1.5s", "2" → microseconds, within 0 …
 * SCRIPT_MAX_TIMEOUT_US. */
gboolean script_parse_duration (const char *text, gint64 *us, GError **error);

/* The other way: "250ms", "2s", "1.5s" (newly allocated). */
char *script_format_duration (gint64 us);

/* "TERM", "SIGTERM", "term", "15" → 15.  0 if it names no signal. */
int script_parse_signal (const char *text);
/* "TERM" for 15; a number as text for a signal without a name.  Static. */
const char *script_signal_name (int signum);

/* Returns the value of a variable, or NULL if it has none. */
typedef const char *(*ScriptLookupFunc) (const char *name, gpointer data);

typedef enum {
  EXPAND_PLAIN,   /* ${var} only */
  EXPAND_ESCAPES, /* and C escapes: \n \r \t \\ \xHH (write) */
  EXPAND_REGEX,   /* values quoted so they match themselves (patterns);
                   * "$${" becomes \$\{, which matches "${" */
} ScriptExpandMode;

/* Appends text to out with every ${var} replaced by its value, in one pass
 * (a value is never expanded or unescaped again).  "$${" is a literal "${".
 * Errors: an unclosed "${", a name that is not letters, digits and _, a
 * variable lookup does not know, a bad escape. */
gboolean script_expand (const char *text, ScriptExpandMode mode,
                        ScriptLookupFunc lookup, gpointer data, GString *out,
                        GError **error);
