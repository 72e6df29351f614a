/* output: batching every child's marked lines onto stdout; see output.h. */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* How many bytes of one stream go into a batch before the next stream's
 * turn: the unit of fairness between children flooding together. */
#define TURN_BYTES (64 * 1024)
/* Most iovecs one line needs: mark, line, newline. */
#define IOV_PER_LINE 3

struct Output {
  int fd;
  int saved_flags;   /* fd's flags before we made it non-blocking, or -1 */
  OutputHooks hooks;
  gpointer data;
  GQueue queue;      /* streams with lines to take */
  struct iovec iov[IOV_MAX];
  guint n_iov;       /* iovecs in the current batch */
  guint iov_done;    /* of which fully written */
  GPtrArray *batch_streams; /* streams with lines in the current batch */
  guint writable_watch;     /* while stdout is full */
  gboolean closed;
  gboolean pumping;
};

static void output_pump (Output *o);

/* A non-blocking stdout lets the main loop wait for it like for anything
 * else; a regular file or /dev/null never makes a write wait, so it stays
 * as it is. */
static void
make_nonblocking (Output *o)
{
  struct stat st;
  o->saved_flags = -1;
  if (fstat (o->fd, &st) != 0 || S_ISREG (st.st_mode) ||
      (S_ISCHR (st.st_mode) && !isatty (o->fd)))
    return;
  int flags = fcntl (o->fd, F_GETFL);
  if (flags < 0 || (flags & O_NONBLOCK))
    return;
  if (fcntl (o->fd, F_SETFL, flags | O_NONBLOCK) == 0)
    o->saved_flags = flags;
}

Output *
output_new (int fd, const OutputHooks *hooks, gpointer data)
{
  Output *o = g_new0 (Output, 1);
  o->fd = fd;
  o->hooks = *hooks;
  o->data = data;
  o->batch_streams = g_ptr_array_new ();
  make_nonblocking (o);
  return o;
}

void
output_free (Output *o)
{
  if (o->saved_flags != -1)
    fcntl (o->fd, F_SETFL, o->saved_flags);
  g_clear_handle_id (&o->writable_watch, g_source_remove);
  g_queue_clear (&o->queue);
  g_ptr_array_unref (o->batch_streams);
  g_free (o);
}

void
output_queue (Output *o, Stream *s)
{
  if (!s->queued)
    {
      s->queued = TRUE;
      g_queue_push_tail (&o->queue, s);
    }
  output_pump (o);
}

void
output_forget (Output *o, Stream *s)
{
  if (s->queued)
    g_queue_remove (&o->queue, s);
  g_ptr_array_remove (o->batch_streams, s);
  s->queued = s->in_batch = FALSE;
}

gboolean
output_idle (Output *o)
{
  return o->queue.length == 0 && o->n_iov == 0;
}

gboolean
output_closed (Output *o)
{
  return o->closed;
}

static inline void
add_iov (Output *o, const void *base, gsize len)
{
  o->iov[o->n_iov++] = (struct iovec) { (void *) base, len };
}

static void
add_line (Output *o, Stream *s, const char *line, gsize len)
{
  gboolean complete = line[len - 1] == '\n';

  add_iov (o, s->mark, strlen (s->mark));
  add_iov (o, line, len);
  if (!complete)
    add_iov (o, "\n", 1);
  if (o->hooks.line != NULL)
    o->hooks.line (o->data, s->child, line, complete ? len - 1 : len);
}

/* Takes lines from the queued streams, a turn each, until the batch is
 * full or no stream has any.  Returns whether the batch holds anything. */
static gboolean
fill_batch (Output *o)
{
  while (o->queue.length > 0 && o->n_iov + IOV_PER_LINE <= IOV_MAX)
    {
      Stream *s = g_queue_pop_head (&o->queue);
      gsize turn = 0;
      gboolean more = TRUE;
      const char *line;
      gsize len;

      s->queued = FALSE;
      while (turn < TURN_BYTES && o->n_iov + IOV_PER_LINE <= IOV_MAX)
        {
          if (!stream_take_line (s, &line, &len))
            {
              more = FALSE;
              break;
            }
          add_line (o, s, line, len);
          turn += len;
          if (!s->in_batch)
            {
              s->in_batch = TRUE;
              g_ptr_array_add (o->batch_streams, s);
            }
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
  o->hooks.closed (o->data, errnum);
}

/* Writes the current batch; FALSE if stdout is full (a watch will resume
 * the pump) or has failed. */
static gboolean
write_batch (Output *o)
{
  while (o->iov_done < o->n_iov && !o->closed)
    {
      ssize_t n = writev (o->fd, o->iov + o->iov_done, o->n_iov - o->iov_done);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN)
            {
              o->writable_watch = g_unix_fd_add (o->fd, G_IO_OUT, on_stdout_writable, o);
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
      if (!fill_batch (o))
        break;
    }
  o->pumping = FALSE;
  if (output_idle (o))
    o->hooks.idle (o->data);
}
