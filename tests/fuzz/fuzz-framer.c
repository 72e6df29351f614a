/* Fuzzes the LineFramer: any bytes, cut into reads of any sizes, come out
 * unchanged, as lines that end in a newline, are full pieces, or are the
 * final flush.  Built with LINE_FRAMER_MAX_LINE small, so that short inputs
 * reach the long-line cases too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framer.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 2)
    return 0;
  /* The first two bytes drive the read sizes and the unfinished-line
   * flushes; the rest is the stream. */
  unsigned state = data[0] | (unsigned) data[1] << 8;
  data += 2;
  size -= 2;

  LineFramer f;
  GString *out = g_string_new (NULL);
  line_framer_init (&f, LINE_FRAMER_MAX_LINE * 2);
  for (size_t fed = 0; fed < size;)
    {
      gsize room;
      char *space = line_framer_space (&f, &room);
      if (room == 0)
        abort (); /* released, yet no room: the framer would stall */
      state = state * 1103515245u + 12345u;
      size_t n = MIN (MIN (room, size - fed), 1 + (state >> 8) % (3 * LINE_FRAMER_MAX_LINE));
      memcpy (space, data + fed, n);
      line_framer_commit (&f, n);
      fed += n;

      gboolean flush = (state >> 30) == 0; /* now and then, as the deadline would */
      const char *line;
      gsize len;
      while (line_framer_take (&f, flush, &line, &len))
        {
          if (len == 0 || len > LINE_FRAMER_MAX_LINE)
            abort ();
          if (memchr (line, '\n', len - 1) != NULL)
            abort (); /* a newline inside a line */
          if (line[len - 1] != '\n' && len != LINE_FRAMER_MAX_LINE && !flush)
            abort (); /* an unfinished line handed out unasked */
          g_string_append_len (out, line, len);
        }
      line_framer_release (&f);
    }
  const char *line;
  gsize len;
  while (line_framer_take (&f, TRUE, &line, &len))
    g_string_append_len (out, line, len);
  if (out->len != size || memcmp (out->str, data, size) != 0)
    abort (); /* bytes lost, added or changed */
  line_framer_clear (&f);
  g_string_free (out, TRUE);
  return 0;
}
