/* children: starting each child and watching it end.
 *
 * A child runs its command directly (or through /bin/sh -c with --shell),
 * with stdin, stdout and stderr on pipes the harness holds the other ends
 * of, in a process group of its own so that a signal reaches everything it
 * started, with PIPE_HARNESS_DIR in its environment.  It dies with the
 * harness: if the harness is killed outright, the kernel sends the child
 * (not the rest of its group) SIGKILL.  The harness reaps each child
 * itself, when told of SIGCHLD, and so also learns when one is stopped.
 *
 * On a pseudo-terminal (--pty), stdin and stdout are the terminal instead:
 * the child leads a session of its own with the terminal as its controlling
 * terminal, so C stdio, Python and readline programs see a terminal and
 * answer line by line.  The terminal does not echo input and leaves "\n"
 * alone; stderr stays a pipe, so its lines keep their own mark.
 */
#pragma once

#include <gio/gio.h>

typedef struct ChildProcess ChildProcess;
typedef void (*ChildExitedFunc) (gpointer data, ChildProcess *child);
typedef void (*ChildStoppedFunc) (gpointer data, ChildProcess *child, int signum);

struct ChildProcess {
  guint index;
  const char *name;
  char **argv;          /* as run */
  char **env;           /* "VAR=VALUE" added to its environment, may be NULL */
  char *path;           /* the program argv[0] names */
  gboolean pty;         /* stdin and stdout on a pseudo-terminal */
  GPid pid;             /* 0 until started */
  gboolean exited;
  int status;           /* its exit status, or 128+N if killed by signal N */
  int term_signal;      /* N, or 0 */
  ChildExitedFunc on_exited;
  ChildStoppedFunc on_stopped;
  gpointer on_exited_data;  /* for both */
};

/* Our ends of the child's stdio, each owned by the caller afterwards.  On
 * a pseudo-terminal, stdin_fd and stdout_fd are both its master side. */
typedef struct {
  int stdin_fd;
  int stdout_fd;
  int stderr_fd;
} ChildPipes;

/* Raises our soft limit on open files to the hard limit: each child takes
 * about six descriptors.  The children start with the limit as it was.
 * Also sets aside, low in the table, the descriptors through which each
 * child gets its stdio; best called before anything else is opened. */
void child_process_init (void);

/* Splits command into child->argv (shell rules, or /bin/sh -c with shell)
 * and checks that its program exists.  The error is G_SPAWN_ERROR_NOENT
 * when it does not. */
gboolean child_process_prepare (ChildProcess *child, const char *command,
                                gboolean shell, GError **error);

/* Starts it.  stdout_pipe_size: the size asked of the stdout pipe (0: the
 * system's default).  The error is a G_FILE_ERROR: MFILE or NFILE when open
 * files run out, AGAIN when processes do. */
gboolean child_process_spawn (ChildProcess *child, const char *harness_dir,
                              int stdout_pipe_size, ChildPipes *ours,
                              GError **error);

/* Takes the news of a started child (after SIGCHLD): on_exited once it
 * has exited (it is then reaped), on_stopped each time it was stopped. */
void child_process_poll (ChildProcess *child);

/* Sends signum to the child's process group; FALSE if nothing is left in
 * it. */
gboolean child_process_signal (ChildProcess *child, int signum);

/* Forgets the process that exited, so that another can be started. */
void child_process_reset (ChildProcess *child);

void child_process_clear (ChildProcess *child);
