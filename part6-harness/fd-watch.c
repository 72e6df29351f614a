/* fd-watch: file descriptor watches that dispatch without waking the
 * loop; see fd-watch.h. */
#include "fd-watch.h"

guint
fd_watch_add (int fd, GIOCondition condition, GUnixFDSourceFunc func, gpointer data)
{
  g_autoptr (GSource) source = g_unix_fd_source_new (fd, condition);
  g_source_set_callback (source, G_SOURCE_FUNC (func), data, NULL);
  g_source_set_can_recurse (source, TRUE);
  return g_source_attach (source, NULL);
}
