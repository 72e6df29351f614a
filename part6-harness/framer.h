/* framer: cuts one child stream's bytes into lines, in place.
 *
 * A LineFramer owns one fixed buffer.  Bytes are read straight into its free
 * tail; complete lines are handed out as pointers into the buffer (no copy),
 * and stay valid until line_framer_release() says everything handed out has
 * been written.  Only then may the buffer move its unfinished tail to the
 * front.  A line longer than LINE_FRAMER_MAX_LINE is handed out in pieces of
 * that size, so a stream without newlines can never fill the buffer.  An
 * unfinished line can be cut where it ends now (line_framer_cut), or a
 * line where a prompt ends (line_framer_cut_at): the bytes before the cut
 * are handed out as a line of their own, and those after begin another.
 */
#pragma once

#include <glib.h>
#include <string.h>

#ifndef LINE_FRAMER_MAX_LINE /* the fuzzer makes it small */
#define LINE_FRAMER_MAX_LINE (64 * 1024)
#endif
/* Cuts waiting to be reached by line_framer_take(); one more replaces the
 * last (a line boundary is lost only with this many waiting). */
#define LINE_FRAMER_CUTS 8

typedef struct {
  char *buf;
  gsize cap;
  gsize taken;   /* bytes before this have been handed out */
  gsize scanned; /* no newline in [taken, scanned) */
  gsize filled;  /* bytes before this hold data */
  gsize cuts[LINE_FRAMER_CUTS]; /* lines end here, newline or not; sorted */
  guint n_cuts;
  guint64 moved; /* bytes moved out of the front so far */
  gboolean pinned; /* handed-out bytes not yet released */
} LineFramer;

/* cap must be larger than LINE_FRAMER_MAX_LINE. */
void line_framer_init (LineFramer *f, gsize cap);
void line_framer_clear (LineFramer *f);

/* Where to read to, and how much fits (0: full until a release). */
char *line_framer_space (LineFramer *f, gsize *room);
void line_framer_commit (LineFramer *f, gsize n);

/* Hands out the next line: a complete one with its '\n', a piece of
 * LINE_FRAMER_MAX_LINE bytes, the bytes up to a cut, or, if flush_partial,
 * whatever unfinished bytes remain.  FALSE when there is nothing to hand
 * out.  (Inline: it runs once per line.) */
static inline gboolean
line_framer_take (LineFramer *f, gboolean flush_partial,
                  const char **line, gsize *len)
{
  gsize start = f->taken;
  gsize end;

  if (start == f->filled)
    return FALSE;

  /* A line ends at its newline, or at the first of these. */
  gsize stop = MIN (f->filled, start + LINE_FRAMER_MAX_LINE);
  gboolean forced = f->filled - start >= LINE_FRAMER_MAX_LINE;
  while (f->n_cuts > 0 && f->cuts[0] <= start)
    memmove (f->cuts, f->cuts + 1, --f->n_cuts * sizeof f->cuts[0]);
  if (f->n_cuts > 0 && f->cuts[0] <= stop)
    {
      stop = f->cuts[0];
      forced = TRUE;
    }
  const char *nl = f->scanned < stop
    ? memchr (f->buf + f->scanned, '\n', stop - f->scanned) : NULL;
  if (nl != NULL)
    end = (gsize) (nl - f->buf) + 1;
  else
    {
      f->scanned = MAX (f->scanned, stop);
      if (forced || flush_partial)
        end = stop;
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

/* Bytes received but not handed out. */
static inline gsize
line_framer_unfinished (const LineFramer *f)
{
  return f->filled - f->taken;
}

/* Where the last cut is, or taken if there is none beyond it. */
static inline gsize
line_framer_last_cut (const LineFramer *f)
{
  return f->n_cuts > 0 ? MAX (f->taken, f->cuts[f->n_cuts - 1]) : f->taken;
}

/* Whether the last bytes received are an unfinished line not yet cut. */
static inline gboolean
line_framer_has_tail (const LineFramer *f)
{
  return f->filled > line_framer_last_cut (f) && f->buf[f->filled - 1] != '\n';
}

/* A line ends at offset at (taken < at <= filled), newline or not. */
void line_framer_cut_at (LineFramer *f, gsize at);

/* The unfinished line ends here: hand it out as it is. */
static inline void
line_framer_cut (LineFramer *f)
{
  line_framer_cut_at (f, f->filled);
}

/* Everything handed out so far has been written: its room may be reused. */
void line_framer_release (LineFramer *f);
