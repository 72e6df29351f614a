/* output: batching every child's marked lines onto stdout, and the log;
 * see output.h. */
#include "output.h"

#include "fd-watch.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "json.h"
#include "report.h"

/* How many bytes of one stream go into a batch before the next stream's
 * turn: the unit of fairness between children flooding together. */
#define TURN_BYTES (64 * 1024)
/* Most iovecs one line needs: time, mark, line, newline. */
#define IOV_PER_LINE 4
/* Lines up to this long are copied into the batch's staging buffer, with
 * their marks; longer ones are written from where they lie.  Copying a
 * short line costs less than the kernel's work for one more iovec. */
#define COPY_LINE_MAX 512
/* The staging buffer: a batch of short lines, written in one piece.  With
 * --json it holds whole JSON lines, so it must fit a few of the longest. */
#define STAGE_SIZE (512 * 1024)
#define STAGE_SIZE_JSON (2 * 1024 * 1024)
#define STDOUT_PIPE_SIZE (1024 * 1024)
/* JSON records of input and events waiting while stdout is blocked; beyond
 * this they are counted, not kept. */
#define NOTES_LIMIT (4 * 1024 * 1024)
/* Log text waiting while the log takes nothing (a FIFO whose reader is
 * slow); beyond this, log lines are counted, not kept. */
#define LOG_BACKLOG_LIMIT (4 * 1024 * 1024)
/* At the end, how long the log is given to take its backlog. */
#define LOG_FINAL_WAIT_MS 1000

static const char *const colors[] = { "36", "33", "35", "32", "34", "31" };

struct Output {
  StreamSink sink;   /* first: the streams' handle on the Output */
  int fd;            /* stdout, or a description of our own of it */
  gboolean own_fd;   /* fd is ours to close */
  gboolean socket;   /* written with MSG_DONTWAIT */
  OutputFormat format;
  OutputHooks hooks;
  gpointer data;
  GQueue queue;      /* streams with lines to take */

  struct iovec iov[IOV_MAX];
  guint n_iov;       /* iovecs in the current batch */
  guint iov_done;    /* of which fully written */
  GPtrArray *batch_streams; /* streams with lines in the current batch */
  char *stage;       /* the batch's copied and formatted bytes */
  gsize stage_size;
  gsize stage_used;
  char batch_time[40];
  gsize batch_time_len;

  GString *notes;    /* JSON input and event records, or messages shown
                      * among the lines, not yet in a batch */
  gboolean events_inline; /* stdout and stderr are one file: messages go in
                           * the batches, so that they keep their place */
  guint64 notes_dropped;
  GString *log;      /* log text not yet written, from log_sent on */
  gsize log_sent;
  guint log_watch;   /* while the log is full */
  guint64 log_dropped; /* lines */

  gboolean watch_lines;     /* call hooks.line */
  guint writable_watch;     /* while stdout is full */
  gboolean closed;
  gboolean pumping;
};

static void output_pump (Output *o);
static void output_queue (StreamSink *sink, Stream *s);
static void output_forget (StreamSink *sink, Stream *s);

/* Whether fds a and b lead to one file: a line written to each keeps its
 * order only if both go through one description, ours. */
static gboolean
same_file (int a, int b)
{
  struct stat sa, sb;
  return fstat (a, &sa) == 0 && fstat (b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino && !(S_ISCHR (sa.st_mode) && !isatty (a));
}

/* Writes that never wait let the main loop wait for stdout like for
 * anything else.  But O_NONBLOCK belongs to the open file description,
 * which stdout shares with whoever else holds the same pipe or terminal
 * (the shell, a program started alongside, our own stderr after 2>&1):
 * set there, it would make their writes fail with EAGAIN.  So a pipe or a
 * terminal is opened again through /proc, for a description of our own; a
 * socket is sent to with MSG_DONTWAIT.  A regular file or /dev/null never
 * makes a write wait, and is written as it is; so is stdout when it cannot
 * be opened again (no /proc): then writes wait.
 *
 * When stdout is a pipe, the harness asks for a larger one: with the
 * default 64 KiB, every batch would wait for the reader to empty the pipe,
 * at the cost of two context switches a time. */
static void
prepare_stdout (Output *o)
{
  struct stat st;
  if (fstat (o->fd, &st) != 0)
    return;
  if (S_ISSOCK (st.st_mode))
    {
      o->socket = TRUE;
      return;
    }
  if (!S_ISFIFO (st.st_mode) && !(S_ISCHR (st.st_mode) && isatty (o->fd)))
    return;
  if (S_ISFIFO (st.st_mode))
    fcntl (o->fd, F_SETPIPE_SZ, STDOUT_PIPE_SIZE); /* a hint: fine if refused */
  g_autofree char *path = g_strdup_printf ("/proc/self/fd/%d", o->fd);
  int own = open (path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (own >= 0)
    {
      o->fd = own;
      o->own_fd = TRUE;
    }
}

Output *
output_new (int fd, const OutputFormat *format, const OutputHooks *hooks,
            gpointer data)
{
  Output *o = g_new0 (Output, 1);
  o->sink.queue = output_queue;
  o->sink.forget = output_forget;
  o->fd = fd;
  o->format = *format;
  o->hooks = *hooks;
  o->data = data;
  o->batch_streams = g_ptr_array_new ();
  o->stage_size = format->json ? STAGE_SIZE_JSON : STAGE_SIZE;
  o->stage = g_malloc (o->stage_size);
  o->notes = g_string_new (NULL);
  o->log = g_string_new (NULL);
  prepare_stdout (o);
  o->events_inline = !format->json && same_file (fd, STDERR_FILENO);
  return o;
}

static void finish_log (Output *o);

void
output_free (Output *o)
{
  if (o->notes_dropped > 0)
    report_error ("%" G_GUINT64_FORMAT " input and event records, or messages, were left out "
                  "of the output while stdout was blocked", o->notes_dropped);
  finish_log (o);
  if (o->own_fd)
    close (o->fd);
  g_clear_handle_id (&o->writable_watch, g_source_remove);
  g_queue_clear (&o->queue);
  g_ptr_array_unref (o->batch_streams);
  g_free (o->stage);
  g_string_free (o->notes, TRUE);
  g_string_free (o->log, TRUE);
  g_free (o);
}

static char
mark_char (const Output *o, StreamKind kind)
{
  return kind == STREAM_STDERR && !o->format.merge_stderr ? '!' : ':';
}

char *
output_mark (Output *o, guint child, const char *name, StreamKind kind)
{
  if (o->format.color)
    return g_strdup_printf ("\033[1;%sm%s%c\033[0m ", colors[child % G_N_ELEMENTS (colors)],
                            name, mark_char (o, kind));
  return g_strdup_printf ("%s%c ", name, mark_char (o, kind));
}

StreamSink *
output_sink (Output *o)
{
  return &o->sink;
}

static void
output_queue (StreamSink *sink, Stream *s)
{
  Output *o = (Output *) sink;
  if (!s->queued)
    {
      s->queued = TRUE;
      g_queue_push_tail (&o->queue, s);
    }
  output_pump (o);
}

static void
output_forget (StreamSink *sink, Stream *s)
{
  Output *o = (Output *) sink;
  if (s->queued)
    g_queue_remove (&o->queue, s);
  g_ptr_array_remove (o->batch_streams, s);
  s->queued = s->in_batch = FALSE;
}

void
output_watch_lines (Output *o, gboolean watch)
{
  o->watch_lines = watch;
}

gboolean
output_idle (Output *o)
{
  return o->queue.length == 0 && o->n_iov == 0 && o->notes->len == 0;
}

gboolean
output_closed (Output *o)
{
  return o->closed;
}

/* ------------------------------------------------------------------ */
/* Times */

static void
format_clock (char *out, gsize size, gint64 real_us)
{
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_local (real_us / G_USEC_PER_SEC);
  g_snprintf (out, size, "%02d:%02d:%02d.%03d ", g_date_time_get_hour (t),
              g_date_time_get_minute (t), g_date_time_get_second (t),
              (int) (real_us % G_USEC_PER_SEC / 1000));
}

/* ------------------------------------------------------------------ */
/* The log, and the records of input and events */

/* Writes as much of the backlog as the log (non-blocking) takes; FALSE if
 * some is left because the log is full. */
static gboolean
write_log (Output *o)
{
  while (o->log_sent < o->log->len && o->format.log_fd >= 0)
    {
      ssize_t n = write (o->format.log_fd, o->log->str + o->log_sent,
                         o->log->len - o->log_sent);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      if (n < 0)
        {
          int saved = errno;
          close (o->format.log_fd);
          o->format.log_fd = -1; /* before reporting, which logs */
          report_error ("cannot write the log any more: %s", g_strerror (saved));
          break;
        }
      o->log_sent += n;
    }
  if (o->format.log_fd < 0 || o->log_sent == o->log->len)
    {
      g_string_truncate (o->log, 0);
      o->log_sent = 0;
      return TRUE;
    }
  if (o->log_sent >= o->log->len / 2) /* keep the backlog at the front */
    {
      g_string_erase (o->log, 0, o->log_sent);
      o->log_sent = 0;
    }
  return FALSE;
}

static gboolean
on_log_writable (int fd, GIOCondition condition, gpointer data)
{
  Output *o = data;
  (void) fd;
  (void) condition;
  o->log_watch = 0;
  if (!write_log (o))
    o->log_watch = fd_watch_add (o->format.log_fd, G_IO_OUT, on_log_writable, o);
  return G_SOURCE_REMOVE;
}

/* Never waits: what the log cannot take now is written when it can. */
static void
flush_log (Output *o)
{
  if (o->log_watch == 0 && !write_log (o))
    o->log_watch = fd_watch_add (o->format.log_fd, G_IO_OUT, on_log_writable, o);
}

/* At the end: the backlog gets a short while to go out, then what is left
 * is dropped with the rest, and the drops are told. */
static void
finish_log (Output *o)
{
  gint64 deadline = g_get_monotonic_time () + LOG_FINAL_WAIT_MS * 1000;
  g_clear_handle_id (&o->log_watch, g_source_remove);
  while (!write_log (o))
    {
      struct pollfd writable = { .fd = o->format.log_fd, .events = POLLOUT };
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      if (left_ms <= 0 || (poll (&writable, 1, (int) left_ms) < 0 && errno != EINTR))
        break;
    }
  if (o->log_sent < o->log->len)
    {
      /* Lines not written at all; one cut short counts too. */
      const char *p = o->log->str + o->log_sent, *end = o->log->str + o->log->len;
      for (; (p = memchr (p, '\n', end - p)) != NULL; p++)
        o->log_dropped++;
    }
  if (o->format.log_fd >= 0)
    close (o->format.log_fd);
  o->format.log_fd = -1;
  if (o->log_dropped > 0)
    report_error ("%" G_GUINT64_FORMAT " log lines were dropped: the log could not "
                  "keep up", o->log_dropped);
}

static void
log_record (Output *o, const char *prefix, const char *sep, const char *text, gsize len)
{
  gsize need = 32 /* a time */ + strlen (prefix) + strlen (sep) + len + 1;
  if (o->log->len - o->log_sent + need > LOG_BACKLOG_LIMIT)
    {
      o->log_dropped++;
      return;
    }
  if (o->format.timestamps)
    {
      char clock[32];
      format_clock (clock, sizeof clock, g_get_real_time ());
      g_string_append (o->log, clock);
    }
  g_string_append (o->log, prefix);
  g_string_append (o->log, sep);
  g_string_append_len (o->log, text, len);
  g_string_append_c (o->log, '\n');
}

/* A record for the JSON stream, in pieces no longer than an output line's
 * so that each fits a batch. */
static void
note_json (Output *o, const char *name, const char *stream, const char *text,
           gsize len, gboolean partial)
{
  char time[32];

  json_format_time (time, g_get_real_time ());
  do
    {
      gsize piece = MIN (len, LINE_FRAMER_MAX_LINE);
      gsize bound = json_line_bound (piece);
      if (o->closed)
        return;
      if (o->notes->len + bound > NOTES_LIMIT)
        {
          o->notes_dropped++;
          return;
        }
      gsize start = o->notes->len;
      g_string_set_size (o->notes, start + bound);
      gsize n = json_format_line (o->notes->str + start, time, name, stream, text,
                                  piece, partial || piece < len);
      g_string_set_size (o->notes, start + n);
      text += piece;
      len -= piece;
    }
  while (len > 0);
}

void
output_input (Output *o, const char *name, const char *data, gsize len)
{
  if (o->format.log_fd < 0 && !o->format.json)
    return;
  for (const char *p = data, *end = data + len; p < end;)
    {
      const char *nl = memchr (p, '\n', end - p);
      gsize line_len = (nl ? nl : end) - p;
      if (o->format.log_fd >= 0)
        log_record (o, name, "< ", p, line_len);
      if (o->format.json)
        note_json (o, name, "input", p, line_len, nl == NULL);
      p += line_len + (nl != NULL);
    }
  output_pump (o);
}

gboolean
output_event (Output *o, const char *text, gboolean show)
{
  gboolean inline_here = show && o->events_inline && !o->closed;
  if (o->format.log_fd >= 0)
    log_record (o, "pipe-harness", ": ", text, strlen (text));
  if (o->format.json)
    note_json (o, "pipe-harness", "event", text, strlen (text), FALSE);
  else if (inline_here && o->notes->len + strlen (text) + 16 > NOTES_LIMIT)
    {
      o->notes_dropped++;
      inline_here = FALSE; /* then on stderr, out of order, but there */
    }
  else if (inline_here)
    g_string_append_printf (o->notes, "pipe-harness: %s\n", text);
  output_pump (o);
  return inline_here;
}

void
output_stop_showing_events (Output *o)
{
  o->events_inline = FALSE;
}


/* ------------------------------------------------------------------ */
/* Batches */

static inline void
add_iov (Output *o, const void *base, gsize len)
{
  o->iov[o->n_iov++] = (struct iovec) { (void *) base, len };
}

/* len bytes were just written at the end of the staging buffer: send them
 * with the iovec before if that ends right there. */
static void
staged (Output *o, gsize len)
{
  char *at = o->stage + o->stage_used;
  struct iovec *last = o->n_iov > 0 ? &o->iov[o->n_iov - 1] : NULL;
  if (last != NULL && (char *) last->iov_base + last->iov_len == at)
    last->iov_len += len;
  else
    add_iov (o, at, len);
  o->stage_used += len;
}

static void
stage_bytes (Output *o, const char *bytes, gsize len)
{
  if (len == 0)
    return;
  memcpy (o->stage + o->stage_used, bytes, len);
  staged (o, len);
}

/* The most a marked line of s takes in the staging buffer: a longer one is
 * not copied. */
static inline gsize
marked_line_bound (const Output *o, const Stream *s)
{
  return o->batch_time_len + s->mark_len + COPY_LINE_MAX + 1;
}

/* Room in the staging buffer for the next line of s, whatever it is. */
static gboolean
stage_has_room (const Output *o, const Stream *s)
{
  gsize need = o->format.json ? json_line_bound (LINE_FRAMER_MAX_LINE)
                              : marked_line_bound (o, s);
  return o->stage_size - o->stage_used >= need;
}

static void
add_line (Output *o, Stream *s, const char *line, gsize len)
{
  gboolean complete = line[len - 1] == '\n';
  gsize text_len = complete ? len - 1 : len;

  if (o->format.json)
    staged (o, json_format_line (o->stage + o->stage_used, o->batch_time, s->name,
                                 s->kind == STREAM_STDOUT ? "stdout" : "stderr",
                                 line, text_len, !complete));
  else
    {
      stage_bytes (o, o->batch_time, o->batch_time_len);
      stage_bytes (o, s->mark, s->mark_len);
      if (len <= COPY_LINE_MAX)
        stage_bytes (o, line, len);
      else
        add_iov (o, line, len);
      if (!complete)
        stage_bytes (o, "\n", 1);
    }
  if (o->format.log_fd >= 0)
    {
      char sep[3] = { mark_char (o, s->kind), ' ', '\0' };
      log_record (o, s->name, sep, line, text_len);
    }
  if (o->watch_lines)
    o->hooks.line (o->data, s->child, line, text_len);
}

/* add_line() for the lines of s while its turn lasts and they fit, when
 * they are only marked (no JSON, no log, nothing watching lines): short
 * lines are copied straight into the staging buffer, one iovec for all.
 * Returns FALSE when s has no line left. */
static gboolean
add_marked_lines (Output *o, Stream *s, gsize *turn)
{
  /* The last place a line can start with room for it. */
  char *const last = o->stage + o->stage_size - marked_line_bound (o, s);
  char *at = o->stage + o->stage_used;
  const char *line;
  gsize len;
  gboolean more = TRUE;

  while (*turn < TURN_BYTES && at <= last && o->n_iov + IOV_PER_LINE <= IOV_MAX)
    {
      if (!stream_take_line (s, &line, &len))
        {
          more = FALSE;
          break;
        }
      *turn += len;
      if (len > COPY_LINE_MAX)
        {
          staged (o, at - (o->stage + o->stage_used));
          add_line (o, s, line, len);
          at = o->stage + o->stage_used;
          continue;
        }
      if (o->batch_time_len > 0)
        at = mempcpy (at, o->batch_time, o->batch_time_len);
      at = mempcpy (mempcpy (at, s->mark, s->mark_len), line, len);
      if (line[len - 1] != '\n')
        *at++ = '\n';
    }
  if (at > o->stage + o->stage_used)
    staged (o, at - (o->stage + o->stage_used));
  return more;
}

/* s has lines in the batch: its buffer is released once it is written. */
static inline void
in_batch (Output *o, Stream *s)
{
  if (!s->in_batch)
    {
      s->in_batch = TRUE;
      g_ptr_array_add (o->batch_streams, s);
    }
}

/* Moves whole JSON records from the notes into the batch, as many as fit. */
static void
add_notes (Output *o)
{
  gsize room = MIN (o->notes->len, o->stage_size - o->stage_used);
  while (room > 0 && o->notes->str[room - 1] != '\n')
    room--;
  if (room == 0)
    return;
  stage_bytes (o, o->notes->str, room);
  g_string_erase (o->notes, 0, room);
}

/* Takes lines from the queued streams, a turn each, until the batch is
 * full or no stream has any.  Returns whether the batch holds anything. */
static gboolean
fill_batch (Output *o)
{
  if (o->format.json)
    json_format_time (o->batch_time, g_get_real_time ());
  else if (o->format.timestamps)
    {
      format_clock (o->batch_time, sizeof o->batch_time, g_get_real_time ());
      o->batch_time_len = strlen (o->batch_time);
    }

  add_notes (o);
  gboolean marked_only = !o->format.json && o->format.log_fd < 0 && !o->watch_lines;
  while (o->queue.length > 0 && o->n_iov + IOV_PER_LINE <= IOV_MAX)
    {
      Stream *s = g_queue_pop_head (&o->queue);
      gsize turn = 0;
      gboolean more = TRUE;
      const char *line;
      gsize len;

      s->queued = FALSE;
      if (!stage_has_room (o, s))
        {
          g_queue_push_head (&o->queue, s); /* the batch is full */
          s->queued = TRUE;
          break;
        }
      if (marked_only)
        {
          more = add_marked_lines (o, s, &turn);
          if (turn > 0)
            in_batch (o, s);
        }
      else
        while (turn < TURN_BYTES && o->n_iov + IOV_PER_LINE <= IOV_MAX &&
               stage_has_room (o, s))
          {
            if (!stream_take_line (s, &line, &len))
              {
                more = FALSE;
                break;
              }
            add_line (o, s, line, len);
            turn += len;
            in_batch (o, s);
          }
      if (more)
        {
          s->queued = TRUE;
          g_queue_push_tail (&o->queue, s);
        }
      else
        stream_taken_all (s);
    }
  return o->n_iov > 0;
}

static ssize_t
write_stdout (Output *o, const struct iovec *iov, int n_iov)
{
  if (!o->socket)
    return writev (o->fd, iov, n_iov);
  struct msghdr msg = { .msg_iov = (struct iovec *) iov, .msg_iovlen = n_iov };
  return sendmsg (o->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static gboolean
on_stdout_writable (int fd, GIOCondition condition, gpointer data)
{
  Output *o = data;
  (void) fd;
  (void) condition;
  o->writable_watch = 0;
  output_pump (o);
  return G_SOURCE_REMOVE;
}

static void
close_output (Output *o, int errnum)
{
  o->closed = TRUE;
  g_string_truncate (o->notes, 0);
  o->hooks.closed (o->data, errnum);
}

/* Writes the current batch; FALSE if stdout is full (a watch will resume
 * the pump).  Once stdout has failed, batches are dropped. */
static gboolean
write_batch (Output *o)
{
  while (o->iov_done < o->n_iov && !o->closed)
    {
      ssize_t n = write_stdout (o, o->iov + o->iov_done, o->n_iov - o->iov_done);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN)
            {
              o->writable_watch = fd_watch_add (o->fd, G_IO_OUT, on_stdout_writable, o);
              return FALSE;
            }
          close_output (o, errno);
          break;
        }
      for (gsize left = n; left > 0;)
        {
          struct iovec *v = &o->iov[o->iov_done];
          if (left < v->iov_len)
            {
              v->iov_base = (char *) v->iov_base + left;
              v->iov_len -= left;
              break;
            }
          left -= v->iov_len;
          o->iov_done++;
        }
    }
  return TRUE;
}

/* The batch is out: its lines' room in the streams may be reused. */
static void
finish_batch (Output *o)
{
  o->n_iov = o->iov_done = 0;
  o->stage_used = 0;
  for (guint i = 0; i < o->batch_streams->len; i++)
    {
      Stream *s = g_ptr_array_index (o->batch_streams, i);
      s->in_batch = FALSE;
      stream_released (s);
    }
  g_ptr_array_set_size (o->batch_streams, 0);
}

static void
output_pump (Output *o)
{
  if (o->pumping || o->writable_watch != 0)
    return;
  o->pumping = TRUE;
  for (;;)
    {
      if (!write_batch (o))
        break;
      finish_batch (o);
      /* Records reported while this batch was filled wait for the next. */
      if (!fill_batch (o) && o->notes->len == 0)
        break;
    }
  flush_log (o);
  o->pumping = FALSE;
  if (output_idle (o))
    o->hooks.idle (o->data);
}
