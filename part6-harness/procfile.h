/* procfile: the habits of foreman and honcho.  Children from a Procfile:
 *
 *   # comment
 *   web: ./server --port $PORT
 *   worker: ./worker --queue jobs
 *
 * one "name: command" per line (a name is at most 64 letters, digits, _
 * and -); each command runs through /bin/sh -c.  And an environment file,
 * ".env" beside the Procfile by default:
 *
 *   # comment
 *   DATABASE_URL=postgres://localhost/dev
 *   export GREETING="hello\nworld"
 *   NAME='single quotes keep everything as it is'
 *
 * one VAR=VALUE per line, "export " allowed before it; a value in double
 * quotes may hold \n, \t, \" and \\; one in single quotes is taken as it
 * is; an unquoted one ends at a " #" comment and is stripped of blanks.
 */
#pragma once

#include <glib.h>

/* Fills *names and *commands (NULL-terminated, same length); an error
 * names "PATH:LINE" and what is wrong. */
gboolean procfile_parse (const char *path, const char *text, gsize length,
                         GStrv *names, GStrv *commands, GError **error);
gboolean procfile_load (const char *path, GStrv *names, GStrv *commands,
                        GError **error);

/* Fills *env with "VAR=VALUE" entries, in the file's order (a variable set
 * twice keeps the last value); an error names "PATH:LINE". */
gboolean dotenv_parse (const char *path, const char *text, gsize length,
                       GStrv *env, GError **error);
gboolean dotenv_load (const char *path, GStrv *env, GError **error);
