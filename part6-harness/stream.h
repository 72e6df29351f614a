/* stream: one child output pipe (its stdout or its stderr) read into a
 * LineFramer.
 *
 * A Stream reads only while its buffer has room: when the Output cannot keep
 * up it stops reading, so the child blocks on its full pipe and memory stays
 * bounded.  It also stops, until its lines are written, once all the
 * streams together hold STREAM_HELD_MAX bytes: with many children, what
 * waits to be written stays as small as with a few, and stays in the
 * processor's caches.  An unfinished line (a prompt) is handed out as a
 * line once the stream has been reading for STREAM_PARTIAL_DELAY_US without
 * its end arriving: time in which it was not reading, because the Output
 * could not keep up, does not count, so a slow stdout never cuts a line in
 * two.  Input sent to the child ends its unfinished line at once
 * (stream_end_prompt).
 * At end-of-file everything left is handed out.
 *
 * A prompt may also come after the input that answers it was sent (the
 * child was still busy), glued to the answer: "sqlite> 42".  So the last
 * unfinished line cut short is remembered as the child's prompt, and after
 * input is sent, the next line that starts with it is cut after it: as many
 * such lines as lines of input were sent.
 */
#pragma once

#include <glib.h>

#include "framer.h"

#define STREAM_PARTIAL_DELAY_US (100 * 1000)
/* Bytes of whole lines read by all the streams of one sink and not written
 * yet, past which a stream reads no more until the sink has written its
 * lines, or, if it had none, until the sink holds half as much. */
#define STREAM_HELD_MAX (2 * 1024 * 1024)

typedef struct Stream Stream;
typedef struct StreamSink StreamSink;

/* Where the streams' lines go (the Output, which embeds it). */
struct StreamSink {
  /* The stream has something to hand out: take it soon. */
  void (*queue) (StreamSink *sink, Stream *stream);
  /* The stream is going away: forget it. */
  void (*forget) (StreamSink *sink, Stream *stream);
  gsize held;      /* bytes of whole lines its streams read, not yet written */
  GQueue waiting;  /* streams that hold nothing and wait for held to fall */
};

typedef enum {
  STREAM_STDOUT,
  STREAM_STDERR,
} StreamKind;

/* Told when a stream becomes settled: see stream_settled(). */
typedef void (*StreamSettledFunc) (gpointer data, Stream *stream);

struct Stream {
  StreamSink *sink;
  guint child;        /* index of the child it belongs to */
  const char *name;   /* the child's */
  StreamKind kind;
  char *mark;         /* what precedes each line on stdout, "A: " or "A! " */
  gsize mark_len;
  int fd;
  LineFramer framer;
  GSource *source;    /* watches fd while reading; fires the partial deadline */
  gpointer fd_tag;    /* fd in the loop's poll set, or NULL */
  gboolean reading;   /* fd watched for input */
  gint64 partial_since; /* reading with an unfinished line since, or 0 */
  gint64 last_read;   /* when bytes last came, or 0 */
  char *prompt;       /* the last unfinished line cut short, or NULL */
  gsize prompt_len;
  guint prompts_sought; /* lines of input sent whose prompt is looked for */
  guint64 prompt_scan;  /* from this byte of the stream on */
  gboolean prompt_skip; /* in a line that does not start with it */
  gboolean eof;
  gboolean child_exited;
  gboolean drained;   /* pipe found empty after the child exited */
  guint64 whole_end;  /* where its last whole line read ends, in all it read */
  gsize held;         /* its part of sink->held: its whole lines' bytes */
  gboolean held_back; /* not reading while the sink holds too much */
  GList waiting_link; /* in sink->waiting while held back holding nothing */
  gboolean queued;    /* waiting in the Output's queue */
  gboolean in_batch;  /* has lines in the Output's current batch */
  StreamSettledFunc on_settled;
  gpointer on_settled_data;
  GFunc on_read;      /* told after each read of new bytes, or NULL */
  gpointer on_read_data;
};

/* Takes ownership of fd (made non-blocking) and of mark. */
Stream *stream_new (StreamSink *sink, char *mark, guint child, const char *name,
                    StreamKind kind, int fd, gsize buffer_size,
                    StreamSettledFunc on_settled, gpointer data);
void stream_free (Stream *stream);
/* func (data, stream) is called each time new bytes were read. */
void stream_set_read_hook (Stream *stream, GFunc func, gpointer data);

/* Everything the stream will get has been read and handed out: end-of-file,
 * or its child exited and the pipe was empty (a grandchild may still hold
 * the pipe open; what it writes later is still read). */
gboolean stream_settled (Stream *stream);

/* The child exited: read what is left in the pipe now. */
void stream_child_exited (Stream *stream);

/* lines lines of input are about to be sent to the child: what it printed
 * so far without a newline (a prompt) is handed out as a line of its own,
 * and as many prompts are looked for in what it prints next. */
void stream_end_prompt (Stream *stream, guint lines);

/* Stop reading for good, dropping nothing already read (at shutdown, when a
 * pipe stays open after every process that should hold it was killed). */
void stream_abandon (Stream *stream);

/* Used by the sink: the next line to write (see line_framer_take;
 * inline, as it runs once per line), and the notices that the stream has
 * nothing more to take for now and that everything taken was written. */
static inline gboolean
stream_take_line (Stream *s, const char **line, gsize *len)
{
  return line_framer_take (&s->framer, s->eof, line, len);
}
void stream_taken_all (Stream *stream);
void stream_released (Stream *stream);
