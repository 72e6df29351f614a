/* framer: cuts one child stream's bytes into lines, in place.
 *
 * A LineFramer owns one fixed buffer.  Bytes are read straight into its free
 * tail; complete lines are handed out as pointers into the buffer (no copy),
 * and stay valid until line_framer_release() says everything handed out has
 * been written.  Only then may the buffer move its unfinished tail to the
 * front.  A line longer than LINE_FRAMER_MAX_LINE is handed out in pieces of
 * that size, so a stream without newlines can never fill the buffer.
 */
#pragma once

#include <glib.h>
#include <string.h>

#ifndef LINE_FRAMER_MAX_LINE /* the fuzzer makes it small */
#define LINE_FRAMER_MAX_LINE (64 * 1024)
#endif

typedef struct {
  char *buf;
  gsize cap;
  gsize taken;   /* bytes before this have been handed out */
  gsize scanned; /* no newline in [taken, scanned) */
  gsize filled;  /* bytes before this hold data */
  gboolean pinned; /* handed-out bytes not yet released */
} LineFramer;

/* cap must be larger than LINE_FRAMER_MAX_LINE. */
void line_framer_init (LineFramer *f, gsize cap);
void line_framer_clear (LineFramer *f);

/* Where to read to, and how much fits (0: full until a release). */
char *line_framer_space (LineFramer *f, gsize *room);
void line_framer_commit (LineFramer *f, gsize n);

/* Hands out the next line: a complete one with its '\n', a piece of
 * LINE_FRAMER_MAX_LINE bytes, or, if flush_partial, whatever unfinished bytes
 * remain.  FALSE when there is nothing to hand out.  (Inline: it runs once
 * per line.) */
static inline gboolean
line_framer_take (LineFramer *f, gboolean flush_partial,
                  const char **line, gsize *len)
{
  gsize start = f->taken;
  gsize end;

  if (start == f->filled)
    return FALSE;

  const char *nl = memchr (f->buf + f->scanned, '\n', f->filled - f->scanned);
  if (nl != NULL)
    end = MIN ((gsize) (nl - f->buf) + 1, start + LINE_FRAMER_MAX_LINE);
  else
    {
      f->scanned = f->filled;
      if (f->filled - start >= LINE_FRAMER_MAX_LINE)
        end = start + LINE_FRAMER_MAX_LINE;
      else if (flush_partial)
        end = f->filled;
      else
        return FALSE;
    }

  *line = f->buf + start;
  *len = end - start;
  f->taken = end;
  f->scanned = MAX (f->scanned, end);
  f->pinned = TRUE;
  return TRUE;
}

/* Bytes received but not handed out: an unfinished line. */
static inline gsize
line_framer_unfinished (const LineFramer *f)
{
  return f->filled - f->taken;
}

/* Everything handed out so far has been written: its room may be reused. */
void line_framer_release (LineFramer *f);
