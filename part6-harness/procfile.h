/* procfile: children from a Procfile, the convention of foreman and honcho:
 *
 *   # comment
 *   web: ./server --port 8080
 *   worker: ./worker --queue jobs
 *
 * one "name: command" per line (a name is at most 64 letters, digits, _
 * and -); each command runs through /bin/sh -c.
 */
#pragma once

#include <glib.h>

/* Fills *names and *commands (NULL-terminated, same length); an error
 * names "PATH:LINE" and what is wrong. */
gboolean procfile_parse (const char *path, const char *text, gsize length,
                         GStrv *names, GStrv *commands, GError **error);
gboolean procfile_load (const char *path, GStrv *names, GStrv *commands,
                        GError **error);
