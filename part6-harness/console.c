/* console: routing lines typed on the harness's stdin; see console.h. */
#include "console.h"

#include "fd-watch.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "report.h"

void
console_init (Console *c, int fd, const char *const *names, int target,
              ConsoleSendFunc send, ConsoleCommandFunc command, gpointer data)
{
  *c = (Console) { .fd = fd, .names = names, .target = target, .send = send,
                   .command = command, .data = data, .background_epoll = -1 };
  c->line = g_byte_array_new ();
}

void
console_clear (Console *c)
{
  g_clear_handle_id (&c->watch, g_source_remove);
  g_clear_handle_id (&c->background_watch, g_source_remove);
  if (c->background_epoll >= 0)
    close (c->background_epoll);
  c->background_epoll = -1;
  g_clear_pointer (&c->line, g_byte_array_unref);
}

static void
send_to (Console *c, guint child, const char *text, gsize len)
{
  g_autofree char *line = g_malloc (len + 1);
  memcpy (line, text, len);
  line[len] = '\n';
  c->send (c->data, child, line, len + 1);
}

/* The line starts with "WORD:" where WORD could be a child's name. */
static gboolean
looks_marked (const char *line, const char *colon)
{
  if (colon == NULL || colon == line)
    return FALSE;
  for (const char *p = line; p < colon; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

/* Sends one line (without its newline) where it belongs. */
static void
console_route_line (Console *c, const char *line, gsize len)
{
  if (len > 0 && line[0] == ':' && (len == 1 || line[1] != ':'))
    {
      g_autofree char *command = g_strndup (line + 1, len - 1);
      if (memchr (line, '\0', len) != NULL)
        report_error ("stdin: a command holds a NUL byte");
      else
        c->command (c->data, command);
      return;
    }
  if (len > 1 && line[0] == ':')
    {
      line++; /* "::text" is ":text" */
      len--;
    }
  const char *colon = memchr (line, ':', len);

  if (colon != NULL)
    for (guint i = 0; c->names[i] != NULL; i++)
      if ((gsize) (colon - line) == strlen (c->names[i]) &&
          memcmp (line, c->names[i], colon - line) == 0)
        {
          const char *text = colon + 1;
          if (text < line + len && *text == ' ')
            text++;
          send_to (c, i, text, line + len - text);
          return;
        }
  if (c->target >= 0)
    {
      if (looks_marked (line, colon))
        {
          g_autofree char *known = g_strjoinv (", ", (char **) c->names);
          report_error ("stdin: no child is named '%.*s' (the children are %s): "
                        "the line went to %s as it is", (int) (colon - line), line,
                        known, c->names[c->target]);
        }
      send_to (c, c->target, line, len);
      return;
    }
  g_autofree char *known = g_strjoinv (", ", (char **) c->names);
  report_error ("stdin: a line must start with a child's name and ':' "
                "(the children are %s), or use --stdin-target", known);
}

/* Adds bytes read to the line being read; each newline ends it. */
static void
take_bytes (Console *c, const char *bytes, gsize len)
{
  for (const char *p = bytes, *end = bytes + len; p < end;)
    {
      const char *nl = memchr (p, '\n', end - p);
      gsize piece = (nl ? nl : end) - p;
      if (!c->too_long && c->line->len + piece > CONSOLE_LINE_MAX)
        {
          report_error ("stdin: a line longer than 1 MiB (%d bytes) was not sent",
                        CONSOLE_LINE_MAX);
          c->too_long = TRUE;
          g_byte_array_set_size (c->line, 0);
        }
      if (!c->too_long)
        g_byte_array_append (c->line, (const guint8 *) p, piece);
      if (nl == NULL)
        break;
      if (!c->too_long)
        console_route_line (c, (const char *) c->line->data, c->line->len);
      c->too_long = FALSE;
      g_byte_array_set_size (c->line, 0);
      p = nl + 1;
    }
}

static gboolean
on_stdin_readable (int fd, GIOCondition condition, gpointer data)
{
  Console *c = data;
  char buf[64 * 1024];
  (void) condition;

  ssize_t n = read (fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n > 0)
    {
      take_bytes (c, buf, n);
      return G_SOURCE_CONTINUE;
    }
  if (n < 0)
    report_error ("reading stdin: %s", g_strerror (errno));
  /* A last line without a newline is a line too. */
  if (c->line->len > 0)
    console_route_line (c, (const char *) c->line->data, c->line->len);
  c->watch = 0;
  c->finished = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
on_background_input (int fd, GIOCondition condition, gpointer data)
{
  struct epoll_event event;
  (void) condition;
  while (epoll_wait (fd, &event, 1, 0) > 0)
    ; /* taken: the next wake-up is the next input */
  console_check_foreground (data);
  return G_SOURCE_CONTINUE;
}

/* Watches the terminal for new input without reading it. */
static void
watch_background (Console *c)
{
  if (c->background_epoll < 0)
    {
      struct epoll_event event = { .events = EPOLLIN | EPOLLET };
      c->background_epoll = epoll_create1 (EPOLL_CLOEXEC);
      if (c->background_epoll < 0 ||
          epoll_ctl (c->background_epoll, EPOLL_CTL_ADD, c->fd, &event) != 0)
        {
          report_error ("cannot watch the terminal: %s", g_strerror (errno));
          return;
        }
    }
  if (c->background_watch == 0)
    c->background_watch = fd_watch_add (c->background_epoll, G_IO_IN,
                                         on_background_input, c);
}

void
console_check_foreground (Console *c)
{
  if (!c->started || c->finished || fcntl (c->fd, F_GETFD) < 0)
    return; /* not yet, no more, or no stdin at all */
  /* Reading a terminal we do not own would stop us (SIGTTIN). */
  if (isatty (c->fd) && tcgetpgrp (c->fd) != getpgrp ())
    {
      g_clear_handle_id (&c->watch, g_source_remove);
      watch_background (c);
      return;
    }
  g_clear_handle_id (&c->background_watch, g_source_remove);
  if (c->watch == 0)
    c->watch = fd_watch_add (c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin_readable, c);
}

void
console_start (Console *c)
{
  c->started = TRUE;
  console_check_foreground (c);
}
