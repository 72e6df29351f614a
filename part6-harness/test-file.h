/* test-file: the .pht test file, a script whose header says what it runs,
 * so that one file is one test.  This file owns the header's grammar.
 *
 *   child NAME COMMAND      a child, started in the order of these lines
 *   ready NAME /RE/         NAME is up once it prints a matching line; its
 *                           named groups are variables (like --ready)
 *   hold NAME…              not started at launch: a start step does
 *   pty [NAME…]             on a pseudo-terminal (all children when bare)
 *   shell                   commands run through /bin/sh -c
 *   timeout T               the whole test (default 60s)
 *   env VAR VALUE           in the children's environment; ${var} in VALUE
 *                           expands from earlier env lines and ours
 *
 * The header ends at the first line that is not one of these (nor blank,
 * nor a comment); the rest of the file is steps (script.h), with their own
 * line numbers.  A header line among the steps is an error.  Except in
 * child and env lines, whose rest is taken whole, a '#' after a blank
 * starts a comment.  ${TEST_DIR} is the file's folder; a command's ${var}
 * must be a named group of an earlier child's ready pattern, an env line's
 * variable, or in the environment.  Errors name "PATH:LINE".
 */
#pragma once

#include <glib.h>

#include "script.h"

#define TEST_FILE_DEFAULT_TIMEOUT_US (60 * G_USEC_PER_SEC)

typedef struct {
  char *path;
  char *dir;          /* the file's folder, absolute: ${TEST_DIR} */
  char **names;       /* one per child line, in order */
  char **commands;    /* as written (${var} expanded when each starts) */
  char **ready;       /* "NAME=/RE/" entries */
  char **hold;        /* names */
  char **pty;         /* names; NULL with pty_all */
  gboolean pty_all;
  gboolean shell;
  gint64 timeout_us;
  char **env;         /* "VAR=VALUE", VALUE expanded */
  char **vars;        /* the named groups of the ready patterns */
} TestFile;

TestFile *test_file_parse (const char *path, const char *text, gsize length,
                           GError **error);
TestFile *test_file_load (const char *path, GError **error);
void test_file_free (TestFile *test);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestFile, test_file_free)

/* The steps after the header, with the file's line numbers (as
 * script_parse() does for a plain script). */
Script *test_file_parse_steps (const char *path, const char *text, gsize length,
                               const char *const *names, const char *const *vars,
                               GError **error);
Script *test_file_load_steps (const char *path, const char *const *names,
                              const char *const *vars, GError **error);
