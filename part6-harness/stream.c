/* stream: one child output pipe read into a LineFramer; see stream.h. */
#include "stream.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

typedef struct {
  GSource source;
  Stream *stream;
} StreamSource;

static void stream_read (Stream *s);
static void stream_drain (Stream *s);
static void unwatch_fd (Stream *s);
static void stream_check_settled (Stream *s);
static void stop_waiting (Stream *s);
static void wake_waiting (StreamSink *sink);

/* Prompts are short. */
#define PROMPT_MAX 128

/* The unfinished line is handed out as it is, and remembered as the
 * child's prompt. */
static void
cut_tail (Stream *s)
{
  LineFramer *f = &s->framer;
  gsize start = line_framer_last_cut (f);
  const char *nl = memrchr (f->buf + start, '\n', f->filled - start);
  if (nl != NULL)
    start = nl + 1 - f->buf;
  if (s->prompts_sought > 0)
    {
      /* Handed out by the clock: a prompt sought is cut off all the same,
       * and what comes next starts a line. */
      if (f->filled - start == s->prompt_len &&
          memcmp (f->buf + start, s->prompt, s->prompt_len) == 0)
        s->prompts_sought--;
      s->prompt_scan = f->moved + f->filled;
      s->prompt_skip = FALSE;
    }
  if (f->filled - start <= PROMPT_MAX)
    {
      g_free (s->prompt);
      s->prompt_len = f->filled - start;
      s->prompt = g_memdup2 (f->buf + start, s->prompt_len);
    }
  line_framer_cut (f);
  s->partial_since = 0;
  s->sink->queue (s->sink, s);
}

/* After input was sent: a line that starts with the prompt and goes on is
 * cut after it, once for each line sent. */
static void
seek_prompt (Stream *s)
{
  LineFramer *f = &s->framer;

  while (s->prompts_sought > 0)
    {
      if (s->prompt_scan < f->moved)
        {
          /* Handed out and gone: go on from what is left, at a line start. */
          s->prompt_scan = f->moved;
          s->prompt_skip = TRUE;
        }
      gsize at = s->prompt_scan - f->moved;
      if (at >= f->filled)
        break;
      gsize avail = f->filled - at;
      if (s->prompt_skip)
        {
          const char *nl = memchr (f->buf + at, '\n', avail);
          s->prompt_scan += nl != NULL ? (gsize) (nl - (f->buf + at)) + 1 : avail;
          s->prompt_skip = nl == NULL;
          continue;
        }
      if (memcmp (f->buf + at, s->prompt, MIN (avail, s->prompt_len)) != 0)
        {
          s->prompt_skip = TRUE;
          continue;
        }
      if (avail <= s->prompt_len)
        break; /* the prompt so far: what follows decides */
      if (f->buf[at + s->prompt_len] != '\n')
        line_framer_cut_at (f, at + s->prompt_len);
      s->prompts_sought--;
      s->prompt_scan += s->prompt_len;
      /* The rest of the line is the answer, unless it is the next prompt:
       * an input that got no answer ("sqlite> sqlite> 42"). */
      s->prompt_skip = FALSE;
    }
}

/* The clock of the unfinished line runs only while the stream reads: it
 * starts when an unfinished line is there and reading goes on, and stops
 * when the line ends or reading stops.  newline: bytes just read held one,
 * so what is unfinished now began with them. */
static void
track_tail (Stream *s, gboolean newline)
{
  if (newline || !s->reading || !line_framer_has_tail (&s->framer))
    s->partial_since = 0;
  if (!s->reading || !line_framer_has_tail (&s->framer) || s->partial_since != 0)
    return;
  s->partial_since = g_get_monotonic_time ();
  if (g_source_get_ready_time (s->source) == -1)
    g_source_set_ready_time (s->source, s->partial_since + STREAM_PARTIAL_DELAY_US);
}

static gboolean
stream_source_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  Stream *s = ((StreamSource *) source)->stream;
  (void) callback;
  (void) data;

  GIOCondition revents = s->fd_tag != NULL ? g_source_query_unix_fd (source, s->fd_tag) : 0;
  if (s->reading && s->child_exited && !s->drained)
    stream_drain (s); /* cut short when its child exited: see resume_reading() */
  else if (revents != 0 && s->reading)
    stream_read (s);
  else if (revents != 0)
    unwatch_fd (s); /* hung up while not read: see watch_fd() */

  /* The deadline was set when the clock of an unfinished line started and
   * is not moved as lines come and go (each move would wake the main loop
   * up): when it comes, the clock may have started again since. */
  gint64 deadline = g_source_get_ready_time (source);
  gint64 now = g_source_get_time (source);
  if (deadline != -1 && deadline <= now)
    {
      g_source_set_ready_time (source, -1);
      if (s->partial_since == 0)
        ; /* nothing unfinished any more, or not reading */
      else if (now >= s->partial_since + STREAM_PARTIAL_DELAY_US)
        cut_tail (s);
      else
        g_source_set_ready_time (source, s->partial_since + STREAM_PARTIAL_DELAY_US);
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs stream_source_funcs = {
  .dispatch = stream_source_dispatch,
};

#define READ_EVENTS (G_IO_IN | G_IO_HUP | G_IO_ERR)

/* Reading stops and starts again often (a full buffer, too much held), and
 * GLib adds a descriptor to its loop, or removes one, with a walk over all
 * of them: O(children) each time.  So while not read the descriptor stays,
 * asking for no event.  It leaves at end-of-file, or if it hangs up while
 * not read: poll() reports that whatever is asked, so it would fire for
 * ever. */
static void
watch_fd (Stream *s, gboolean watch)
{
  watch = watch && !s->eof;
  if (watch == s->reading)
    return;
  s->reading = watch;
  if (s->fd_tag == NULL)
    s->fd_tag = g_source_add_unix_fd (s->source, s->fd, READ_EVENTS);
  else
    g_source_modify_unix_fd (s->source, s->fd_tag, watch ? READ_EVENTS : 0);
}

static void
unwatch_fd (Stream *s)
{
  s->reading = FALSE;
  if (s->fd_tag != NULL)
    g_source_remove_unix_fd (s->source, s->fd_tag);
  s->fd_tag = NULL;
}

Stream *
stream_new (StreamSink *sink, char *mark, guint child, const char *name,
            StreamKind kind, int fd, gsize buffer_size, StreamSettledFunc on_settled,
            gpointer data)
{
  Stream *s = g_new0 (Stream, 1);
  s->sink = sink;
  s->child = child;
  s->name = name;
  s->kind = kind;
  s->mark = mark;
  s->mark_len = strlen (s->mark);
  s->fd = fd;
  s->on_settled = on_settled;
  s->on_settled_data = data;
  line_framer_init (&s->framer, buffer_size);
  g_unix_set_fd_nonblocking (fd, TRUE, NULL);

  s->source = g_source_new (&stream_source_funcs, sizeof (StreamSource));
  ((StreamSource *) s->source)->stream = s;
  g_source_set_static_name (s->source, "child output");
  /* GLib blocks a source while it dispatches it, unless it may recurse,
   * and blocking and unblocking each wake the main loop up: two system
   * calls and one more loop iteration per read.  The dispatch never runs
   * the main loop itself, so recursion cannot happen anyway. */
  g_source_set_can_recurse (s->source, TRUE);
  watch_fd (s, TRUE);
  g_source_attach (s->source, NULL);
  return s;
}

void
stream_free (Stream *s)
{
  s->sink->forget (s->sink, s);
  stop_waiting (s);
  s->sink->held -= s->held;
  wake_waiting (s->sink);
  g_source_destroy (s->source);
  g_source_unref (s->source);
  if (s->fd >= 0)
    close (s->fd);
  line_framer_clear (&s->framer);
  g_free (s->prompt);
  g_free (s->mark);
  g_free (s);
}

gboolean
stream_settled (Stream *s)
{
  return (s->eof || s->drained) && line_framer_unfinished (&s->framer) == 0;
}

static void
stream_check_settled (Stream *s)
{
  if (stream_settled (s) && s->on_settled != NULL)
    s->on_settled (s->on_settled_data, s);
}

static void
stream_end (Stream *s)
{
  s->eof = TRUE;
  s->partial_since = 0;
  unwatch_fd (s);
  g_source_set_ready_time (s->source, -1);
}

static void resume_reading (Stream *s);

/* s waits, not reading, until the sink holds half of STREAM_HELD_MAX. */
static void
wait_for_sink (Stream *s)
{
  if (s->waiting_link.data != NULL)
    return;
  s->waiting_link.data = s;
  g_queue_push_tail_link (&s->sink->waiting, &s->waiting_link);
}

static void
stop_waiting (Stream *s)
{
  if (s->waiting_link.data == NULL)
    return;
  g_queue_unlink (&s->sink->waiting, &s->waiting_link);
  s->waiting_link.data = NULL;
}

/* Once the sink holds half of STREAM_HELD_MAX, the streams that wait for
 * that read again. */
static void
wake_waiting (StreamSink *sink)
{
  while (sink->held < STREAM_HELD_MAX / 2 && sink->waiting.length > 0)
    resume_reading (g_queue_peek_head (&sink->waiting));
}

/* The sink's count of the bytes of whole lines its streams hold, after
 * the framer's changed: an unfinished line does not count, as it cannot be
 * written until its end is read. */
static void
count_held (Stream *s)
{
  guint64 moved = s->framer.moved;
  gsize whole = s->whole_end > moved ? (gsize) (s->whole_end - moved) : 0;
  s->sink->held = s->sink->held - s->held + whole;
  s->held = whole;
  wake_waiting (s->sink);
}

static void
stop_reading (Stream *s)
{
  watch_fd (s, FALSE);
  track_tail (s, FALSE);
}

/* Whether the sink holds so much that s should not read now.  Held back,
 * it reads again once its lines are written (stream_released(),
 * stream_taken_all()), or, with none to write, once the sink holds half as
 * much.  The sink holds whole lines only, so it will write them: no stream
 * waits for ever. */
static gboolean
hold_back (Stream *s)
{
  if (s->sink->held < STREAM_HELD_MAX)
    return FALSE;
  s->held_back = TRUE;
  if (!s->queued && !s->in_batch)
    wait_for_sink (s);
  stop_reading (s);
  return TRUE;
}

/* One read into the framer.  Returns FALSE when nothing more can be read
 * right now: buffer full, too much held (unless held_ok: when input is
 * about to be sent, what the child printed before it is read whatever is
 * held), pipe empty, or end-of-file. */
static gboolean
stream_read_once (Stream *s, gboolean held_ok)
{
  gsize room;
  char *space = line_framer_space (&s->framer, &room);

  count_held (s);
  if (room == 0)
    {
      stop_reading (s);
      return FALSE;
    }
  if (!held_ok && hold_back (s))
    return FALSE;
  ssize_t n = read (s->fd, space, room);
  if (n > 0)
    {
      const char *nl = memrchr (space, '\n', n);
      line_framer_commit (&s->framer, n);
      if (nl != NULL)
        s->whole_end = s->framer.moved + (guint64) (nl + 1 - s->framer.buf);
      count_held (s);
      s->last_read = g_get_monotonic_time ();
      if (s->prompts_sought > 0)
        seek_prompt (s);
      track_tail (s, nl != NULL);
      return TRUE;
    }
  if (n < 0 && errno == EINTR)
    return TRUE;
  if (n < 0 && errno == EAGAIN)
    {
      /* What a process it started may write later is still read, and an
       * unfinished line still waits for its end as long as ever. */
      if (s->child_exited)
        s->drained = TRUE;
      return FALSE;
    }
  /* 0 is end-of-file; a pseudo-terminal says EIO once the child is gone. */
  if (n < 0 && errno != EIO)
    report_error ("reading a child's output: %s", g_strerror (errno));
  stream_end (s);
  return FALSE;
}

static void
stream_read (Stream *s)
{
  if (stream_read_once (s, FALSE) && s->on_read != NULL)
    s->on_read (s->on_read_data, s);
  s->sink->queue (s->sink, s);
}

/* Reads what is in the pipe now: once its child exited, until it is found
 * empty (drained), unless the stream has to stop reading first. */
static void
stream_drain (Stream *s)
{
  while (stream_read_once (s, FALSE))
    ;
  s->sink->queue (s->sink, s);
}

void
stream_set_read_hook (Stream *s, GFunc func, gpointer data)
{
  s->on_read = func;
  s->on_read_data = data;
}

void
stream_child_exited (Stream *s)
{
  s->child_exited = TRUE;
  stream_drain (s);
}

/* Prompts looked for at most: a flood of input does not make every line
 * suspect for ever. */
#define PROMPTS_SOUGHT_MAX 1000

void
stream_end_prompt (Stream *s, guint lines)
{
  if (s->eof)
    return;
  while (stream_read_once (s, TRUE))
    ;
  if (line_framer_has_tail (&s->framer))
    cut_tail (s);
  else
    s->sink->queue (s->sink, s);
  if (s->prompt == NULL || s->prompt_len == 0)
    return;
  /* What the child prints next starts a line; what is before is done. */
  s->prompt_scan = s->framer.moved + s->framer.filled;
  s->prompt_skip = FALSE;
  s->prompts_sought = MIN (s->prompts_sought + lines, PROMPTS_SOUGHT_MAX);
}

void
stream_abandon (Stream *s)
{
  stream_end (s);
  s->sink->queue (s->sink, s);
}

static void
resume_reading (Stream *s)
{
  s->held_back = FALSE;
  stop_waiting (s);
  if (!s->eof)
    {
      watch_fd (s, TRUE);
      track_tail (s, FALSE);
      /* Its child exited while it could not read, so it was not drained:
       * its pipe may be empty and held open by a grandchild, and never
       * wake it, so the drain goes on at once. */
      if (s->child_exited && !s->drained)
        g_source_set_ready_time (s->source, 0);
    }
}

void
stream_taken_all (Stream *s)
{
  /* Held back, with nothing left to write: it waits with those that held
   * nothing, or reads again if the sink holds less by now. */
  if (s->held_back && !s->in_batch && s->sink->held < STREAM_HELD_MAX)
    resume_reading (s);
  else if (s->held_back && !s->in_batch)
    wait_for_sink (s);
  stream_check_settled (s);
}

void
stream_released (Stream *s)
{
  gsize room;
  line_framer_release (&s->framer);
  line_framer_space (&s->framer, &room); /* what was written leaves the count */
  count_held (s);
  resume_reading (s);
}
