/* fd-watch: watching a file descriptor from the main loop without the
 * loop waking itself up around each dispatch.
 *
 * GLib blocks a source while it dispatches it, unless the source may
 * recurse; blocking and unblocking each signal the loop's own wake-up
 * descriptor, so a plain g_unix_fd_add() watch costs two writes, one read
 * and one more loop iteration every time it fires.  None of the harness's
 * callbacks runs the main loop itself, so they cannot recurse anyway.
 */
#pragma once

#include <glib-unix.h>

/* As g_unix_fd_add(): returns the source's id, for g_source_remove(). */
guint fd_watch_add (int fd, GIOCondition condition, GUnixFDSourceFunc func, gpointer data);
