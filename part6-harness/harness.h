/* harness: one run of pipe-harness.
 *
 * Sets up the children, their input FIFOs, output streams and the script,
 * wires their events together on one GMainLoop, and decides when and how
 * the run ends: read every child's output to the end, SIGTERM what still
 * runs, SIGKILL it after the kill timeout, reap, remove what it made, and
 * return the exit status.
 *
 * Children start in command-line order; one with a --ready pattern holds
 * the next back until it prints a matching line, whose named groups become
 * variables for later commands and the script.  Held children start when
 * the script says so.  The script also starts, signals and restarts them
 * through the harness, and gives the verdict.
 */
#pragma once

#include <glib.h>

#include "script.h"

/* A child's name: letters, digits, _ and -, this many at most. */
#define HARNESS_NAME_MAX SCRIPT_CHILD_NAME_MAX

/* Exit statuses besides a child's own. */
#define EXIT_USAGE 2
#define EXIT_SCRIPT_FAILED 3
#define EXIT_CANNOT_START 127

typedef struct {
  char **commands;       /* one per child */
  char **names;          /* as many as commands */
  gboolean shell;
  char *fifo_dir;        /* NULL: a private folder */
  char **fifos;          /* "NAME=PATH" entries, may be NULL */
  char *script;
  gboolean exit_after_script;
  gboolean wait_all;
  gboolean merge_stderr;
  gint64 kill_timeout_us;
  gboolean pty_all;      /* every child on a pseudo-terminal */
  char **pty;            /* or these (names), may be NULL */
  gboolean timestamps;
  gboolean json;
  gboolean color;        /* decided from --color, NO_COLOR and stdout */
  char *log;             /* transcript file, appended to, or NULL */
  char *stdin_target;    /* child for unmarked stdin lines, or NULL */
  char **ready;          /* "NAME=/REGEX/" entries, may be NULL */
  gint64 ready_timeout_us;
  char **hold;           /* names of children not started at launch, may be NULL */
  gsize match_max;       /* bytes of lines an expect searches, per child */
  char **env;            /* "VAR=VALUE" for every child (--env), may be NULL */
  int port_base;         /* > 0: child i gets PORT = port_base + 100 i */
  gint64 timeout_us;     /* the whole run, then it fails (0: no limit) */
  gboolean script_is_test_file; /* script is a .pht file: skip its header */
} HarnessOptions;

/* Runs everything; returns the exit status (errors already reported). */
int harness_run (const HarnessOptions *options);
