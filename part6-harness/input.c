/* input: queueing bytes for a child's stdin; see input.h. */
#include "input.h"

#include "fd-watch.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <termios.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

static void write_queue (ChildInput *in);
static void queue_input (ChildInput *in, const char *data, gsize len);
static void update_fifo_watch (ChildInput *in);

void
child_input_init (ChildInput *in, guint child, const char *name, Output *output)
{
  in->child = child;
  in->name = g_strdup (name);
  in->output = output;
  in->stdin_fd = -1;
  in->queue = g_byte_array_new ();
}

void
child_input_attach (ChildInput *in, int stdin_fd, gboolean stdin_is_pty,
                    Stream *out, Stream *err)
{
  g_clear_handle_id (&in->stdin_watch, g_source_remove);
  if (in->stdin_fd >= 0)
    close (in->stdin_fd);
  in->stdin_fd = stdin_fd;
  in->stdin_is_pty = stdin_is_pty;
  in->out = out;
  in->err = err;
  in->closed = in->close_pending = FALSE;
  in->dropped = 0;
  in->at_line_start = TRUE;
  in->eof_sent = FALSE;
  in->attached_at = g_get_monotonic_time ();
  in->settling = TRUE;
  in->held_from = in->queue->len;
  g_unix_set_fd_nonblocking (stdin_fd, TRUE, NULL);
  write_queue (in);
}

void
child_input_clear (ChildInput *in)
{
  g_clear_handle_id (&in->fifo_watch, g_source_remove);
  g_clear_handle_id (&in->stdin_watch, g_source_remove);
  g_clear_handle_id (&in->settle_timer, g_source_remove);
  if (in->stdin_fd >= 0)
    close (in->stdin_fd);
  in->stdin_fd = -1;
  input_fifo_close (&in->fifo);
  g_clear_pointer (&in->queue, g_byte_array_unref);
  g_clear_pointer (&in->name, g_free);
}

/* Nothing more will be delivered: stdin is closed (or the child stopped
 * reading it); what is queued and what still comes is dropped. */
static void
shut_stdin (ChildInput *in)
{
  g_clear_handle_id (&in->stdin_watch, g_source_remove);
  /* A terminal stays open (closing it would not hang it up: its output is
   * read through the same terminal), for the end-of-file to be sent again. */
  if (in->stdin_fd >= 0 && !(in->eof_sent && in->stdin_is_pty))
    {
      close (in->stdin_fd);
      in->stdin_fd = -1;
    }
  in->closed = TRUE;
  in->dropped += in->queue->len;
  g_byte_array_set_size (in->queue, 0);
}

static void
drop_input (ChildInput *in, gsize len)
{
  if (in->dropped == 0)
    report_error ("%s's input is closed; dropping what arrives for it",
                  in->name);
  in->dropped += len;
}

void
child_input_detach (ChildInput *in, gboolean keep)
{
  g_clear_handle_id (&in->stdin_watch, g_source_remove);
  g_clear_handle_id (&in->settle_timer, g_source_remove);
  if (in->stdin_fd >= 0)
    close (in->stdin_fd);
  in->stdin_fd = -1;
  in->out = in->err = NULL;
  in->close_pending = FALSE;
  if (keep)
    in->closed = FALSE;
  else
    shut_stdin (in);
  update_fifo_watch (in);
}

static gboolean
on_fifo_readable (int fd, GIOCondition condition, gpointer data)
{
  ChildInput *in = data;
  char buf[INPUT_QUEUE_LIMIT];
  gsize room = in->closed ? sizeof buf : INPUT_QUEUE_LIMIT - in->queue->len;
  (void) condition;

  ssize_t n = read (fd, buf, room);
  if (n < 0 && errno != EINTR && errno != EAGAIN)
    {
      report_error ("reading %s: %s", in->fifo.path, g_strerror (errno));
      in->fifo_watch = 0;
      return G_SOURCE_REMOVE;
    }
  if (n > 0 && in->closed)
    drop_input (in, n);
  else if (n > 0)
    queue_input (in, buf, n);
  if (in->fifo_watch != 0 && !in->closed && in->queue->len >= INPUT_QUEUE_LIMIT)
    {
      in->fifo_watch = 0; /* full: writers wait until the child reads */
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
update_fifo_watch (ChildInput *in)
{
  gboolean want = in->fifo_enabled && in->fifo.read_fd >= 0 &&
                  (in->closed || in->queue->len < INPUT_QUEUE_LIMIT);
  if (want && in->fifo_watch == 0)
    in->fifo_watch = fd_watch_add (in->fifo.read_fd, G_IO_IN, on_fifo_readable, in);
  else if (!want)
    g_clear_handle_id (&in->fifo_watch, g_source_remove);
}

void
child_input_enable_fifo (ChildInput *in, gboolean enable)
{
  in->fifo_enabled = enable;
  update_fifo_watch (in);
}

static gboolean
on_stdin_writable (int fd, GIOCondition condition, gpointer data)
{
  ChildInput *in = data;
  (void) fd;
  (void) condition;
  in->stdin_watch = 0;
  write_queue (in);
  return G_SOURCE_REMOVE;
}

/* Sends the terminal's end-of-file character as its mode wants it, and
 * notes the mode; FALSE if the terminal cannot take it now. */
static gboolean
send_terminal_eof (ChildInput *in)
{
  struct termios tio;
  char eof[2] = { 4, 4 }; /* ^D */
  gboolean canonical = TRUE;

  if (tcgetattr (in->stdin_fd, &tio) == 0)
    {
      canonical = (tio.c_lflag & ICANON) != 0;
      if (tio.c_cc[VEOF] != _POSIX_VDISABLE)
        eof[0] = eof[1] = (char) tio.c_cc[VEOF];
    }
  gsize len = canonical && !in->at_line_start ? 2 : 1;
  ssize_t n = write (in->stdin_fd, eof, len);
  if (n < 0 && errno == EAGAIN)
    return FALSE;
  in->eof_sent = TRUE;
  in->eof_canonical = canonical;
  in->at_line_start = TRUE;
  return TRUE;
}

static void
finish_close (ChildInput *in)
{
  if (in->stdin_is_pty && !send_terminal_eof (in))
    {
      in->stdin_watch = fd_watch_add (in->stdin_fd, G_IO_OUT, on_stdin_writable, in);
      return;
    }
  in->close_pending = FALSE;
  shut_stdin (in);
}

void
child_input_terminal_output (ChildInput *in)
{
  struct termios tio;

  if (!in->eof_sent || in->stdin_fd < 0 || tcgetattr (in->stdin_fd, &tio) != 0 ||
      ((tio.c_lflag & ICANON) != 0) == in->eof_canonical)
    return;
  send_terminal_eof (in); /* if the terminal is full, it is reading nothing */
}

/* Input ends a prompt: whatever the timing, "sqlite> " and the answer to
 * what is written now are two lines. */
static void
end_prompts (ChildInput *in, const guint8 *data, gsize len)
{
  guint lines = 0;
  for (const guint8 *p = data; p != NULL && p < data + len; lines++)
    {
      p = memchr (p, '\n', data + len - p);
      if (p != NULL)
        p++;
    }
  if (in->out != NULL)
    stream_end_prompt (in->out, MAX (lines, 1));
  if (in->err != NULL)
    stream_end_prompt (in->err, MAX (lines, 1));
}

static gboolean on_settle_timeout (gpointer data);

/* While the process is settling: FALSE, with a timer for the moment its
 * output will have been still long enough; TRUE once it has. */
static gboolean
settled (ChildInput *in)
{
  if (!in->settling)
    return TRUE;
  gint64 now = g_get_monotonic_time ();
  gint64 last = in->attached_at;
  if (in->out != NULL)
    last = MAX (last, in->out->last_read);
  if (in->err != NULL)
    last = MAX (last, in->err->last_read);
  gint64 due = MIN (last + INPUT_SETTLE_US, in->attached_at + INPUT_SETTLE_MAX_US);
  gboolean gone = in->out == NULL || in->out->eof;
  if (now < due && !gone)
    {
      if (in->settle_timer == 0)
        in->settle_timer = g_timeout_add ((guint) ((due - now + 999) / 1000),
                                          on_settle_timeout, in);
      return FALSE;
    }
  in->settling = FALSE;
  g_clear_handle_id (&in->settle_timer, g_source_remove);
  end_prompts (in, in->queue->data, in->queue->len);
  /* What waited is recorded now, when it goes, after the prompt it waited
   * for. */
  output_input (in->output, in->name, (const char *) in->queue->data + in->held_from,
                in->queue->len - in->held_from);
  return TRUE;
}

static gboolean
on_settle_timeout (gpointer data)
{
  ChildInput *in = data;
  in->settle_timer = 0;
  write_queue (in);
  return G_SOURCE_REMOVE;
}

static void
queue_input (ChildInput *in, const char *data, gsize len)
{
  if (!in->settling)
    end_prompts (in, (const guint8 *) data, len);
  g_byte_array_append (in->queue, (const guint8 *) data, len);
  if (!in->settling)
    output_input (in->output, in->name, data, len);
  write_queue (in);
}

static void
write_queue (ChildInput *in)
{
  if (in->queue->len > 0 && in->stdin_fd >= 0 && !settled (in))
    return;
  while (in->queue->len > 0 && in->stdin_watch == 0 && !in->closed && in->stdin_fd >= 0)
    {
      ssize_t n = write (in->stdin_fd, in->queue->data, in->queue->len);
      if (n > 0)
        {
          in->at_line_start = in->queue->data[n - 1] == '\n';
          g_byte_array_remove_range (in->queue, 0, n);
        }
      else if (n < 0 && errno == EAGAIN)
        in->stdin_watch = fd_watch_add (in->stdin_fd, G_IO_OUT, on_stdin_writable, in);
      else if (n < 0 && errno != EINTR)
        {
          report_error ("%s stopped reading its input (%s); %u bytes were "
                        "not delivered", in->name, g_strerror (errno),
                        in->queue->len);
          shut_stdin (in);
        }
    }
  if (in->queue->len == 0 && in->close_pending && in->stdin_watch == 0 &&
      in->stdin_fd >= 0)
    finish_close (in);
  update_fifo_watch (in);
  if (in->on_room != NULL && !child_input_full (in))
    {
      ChildInputRoomFunc func = in->on_room;
      in->on_room = NULL;
      func (in->on_room_data, in->child);
    }
}

gboolean
child_input_full (const ChildInput *in)
{
  return in->queue->len >= INPUT_QUEUE_LIMIT;
}

void
child_input_notify_room (ChildInput *in, ChildInputRoomFunc func, gpointer data)
{
  in->on_room = func;
  in->on_room_data = data;
}

gboolean
child_input_send (ChildInput *in, const char *data, gsize len, GError **error)
{
  if (in->closed || in->close_pending)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                   "%s's input is closed", in->name);
      return FALSE;
    }
  queue_input (in, data, len);
  return TRUE;
}

void
child_input_close (ChildInput *in)
{
  if (in->closed || in->close_pending)
    return;
  /* End-of-file is input too: what the child says to it starts a line. */
  if (!in->settling && in->queue->len == 0)
    end_prompts (in, NULL, 0);
  in->close_pending = TRUE;
  write_queue (in);
}
