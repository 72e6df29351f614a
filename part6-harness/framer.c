/* framer: cuts one child stream's bytes into lines, in place; see framer.h. */
#include "framer.h"

#include <string.h>

void
line_framer_init (LineFramer *f, gsize cap)
{
  g_assert (cap > LINE_FRAMER_MAX_LINE);
  *f = (LineFramer) { .buf = g_malloc (cap), .cap = cap };
}

void
line_framer_clear (LineFramer *f)
{
  g_clear_pointer (&f->buf, g_free);
}

char *
line_framer_space (LineFramer *f, gsize *room)
{
  if (!f->pinned && f->taken > 0)
    {
      /* Move the unfinished line to the front.  It is shorter than
       * LINE_FRAMER_MAX_LINE, so at least cap - MAX_LINE bytes come free. */
      gsize keep = f->filled - f->taken;
      memmove (f->buf, f->buf + f->taken, keep);
      f->scanned -= f->taken;
      guint kept = 0;
      for (guint i = 0; i < f->n_cuts; i++)
        if (f->cuts[i] > f->taken)
          f->cuts[kept++] = f->cuts[i] - f->taken;
      f->n_cuts = kept;
      f->moved += f->taken;
      f->filled = keep;
      f->taken = 0;
    }
  *room = f->cap - f->filled;
  return f->buf + f->filled;
}

void
line_framer_commit (LineFramer *f, gsize n)
{
  g_assert (n <= f->cap - f->filled);
  f->filled += n;
}

void
line_framer_cut_at (LineFramer *f, gsize at)
{
  guint i = f->n_cuts;

  g_assert (at <= f->filled);
  if (at <= line_framer_last_cut (f))
    {
      /* Before a cut already made (a prompt found late): in its place. */
      while (i > 0 && f->cuts[i - 1] > at)
        i--;
      if (at <= f->taken || (i > 0 && f->cuts[i - 1] == at))
        return;
    }
  if (f->n_cuts == LINE_FRAMER_CUTS)
    {
      if (i == LINE_FRAMER_CUTS)
        i--;
      f->n_cuts--;
    }
  memmove (f->cuts + i + 1, f->cuts + i, (f->n_cuts - i) * sizeof f->cuts[0]);
  f->cuts[i] = at;
  f->n_cuts++;
}

void
line_framer_release (LineFramer *f)
{
  f->pinned = FALSE;
}
