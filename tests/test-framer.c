/* Unit tests of pipe-harness's LineFramer: lines are handed out whole, in
 * order, unchanged, long ones in pieces, unfinished ones only when asked. */
#include <string.h>

#include "framer.h"

#define CAP (LINE_FRAMER_MAX_LINE * 2)

static void
feed (LineFramer *f, const char *data, gsize len)
{
  gsize room;
  char *space = line_framer_space (f, &room);
  g_assert_cmpuint (room, >=, len);
  memcpy (space, data, len);
  line_framer_commit (f, len);
}

static char *
take (LineFramer *f, gboolean flush)
{
  const char *line = NULL;
  gsize len = 0;
  if (!line_framer_take (f, flush, &line, &len))
    return NULL;
  return g_strndup (line, len);
}

static void
test_complete_lines (void)
{
  LineFramer f;
  line_framer_init (&f, CAP);
  feed (&f, "one\ntwo\nthr", 11);

  g_autofree char *a = take (&f, FALSE);
  g_autofree char *b = take (&f, FALSE);
  g_assert_cmpstr (a, ==, "one\n");
  g_assert_cmpstr (b, ==, "two\n");
  g_assert_null (take (&f, FALSE));
  g_assert_cmpuint (line_framer_unfinished (&f), ==, 3);

  line_framer_release (&f);
  feed (&f, "ee\n", 3);
  g_autofree char *c = take (&f, FALSE);
  g_assert_cmpstr (c, ==, "three\n");
  g_assert_cmpuint (line_framer_unfinished (&f), ==, 0);
  line_framer_clear (&f);
}

static void
test_partial_flush (void)
{
  LineFramer f;
  line_framer_init (&f, CAP);
  feed (&f, "prompt> ", 8);
  g_assert_null (take (&f, FALSE));
  g_autofree char *p = take (&f, TRUE);
  g_assert_cmpstr (p, ==, "prompt> ");
  g_assert_null (take (&f, TRUE));
  line_framer_clear (&f);
}

/* A cut ends the unfinished line where it is: bytes that come later, the
 * answer to a prompt, begin a line of their own, even when they arrive
 * before the line is taken, and even across the move to the front. */
static void
test_cut (void)
{
  LineFramer f;
  line_framer_init (&f, CAP);
  feed (&f, "one\nsqlite> ", 12);
  g_assert_true (line_framer_has_tail (&f));
  line_framer_cut (&f);
  g_assert_false (line_framer_has_tail (&f));
  feed (&f, "42\nnext", 7);
  g_assert_true (line_framer_has_tail (&f));

  g_autofree char *a = take (&f, FALSE);
  g_autofree char *b = take (&f, FALSE);
  g_autofree char *c = take (&f, FALSE);
  g_assert_cmpstr (a, ==, "one\n");
  g_assert_cmpstr (b, ==, "sqlite> ");
  g_assert_cmpstr (c, ==, "42\n");
  g_assert_null (take (&f, FALSE));

  line_framer_release (&f);
  line_framer_cut (&f);
  feed (&f, " more\n", 6); /* moves "next" to the front first */
  g_autofree char *d = take (&f, FALSE);
  g_autofree char *e = take (&f, FALSE);
  g_assert_cmpstr (d, ==, "next");
  g_assert_cmpstr (e, ==, " more\n");
  g_assert_null (take (&f, TRUE));
  line_framer_clear (&f);
}

static void
test_long_line_pieces (void)
{
  LineFramer f;
  gsize total = LINE_FRAMER_MAX_LINE + 100;
  g_autofree char *data = g_malloc (total + 1);
  const char *line = NULL;
  gsize len = 0;

  memset (data, 'x', total);
  data[total] = '\n';
  line_framer_init (&f, CAP);
  feed (&f, data, total + 1);

  g_assert_true (line_framer_take (&f, FALSE, &line, &len));
  g_assert_cmpuint (len, ==, LINE_FRAMER_MAX_LINE);
  g_assert_true (line_framer_take (&f, FALSE, &line, &len));
  g_assert_cmpuint (len, ==, 101);
  g_assert_cmpint (line[100], ==, '\n');
  line_framer_clear (&f);
}

/* Without a newline, a full piece is handed out as soon as it is there, so
 * a stream that never ends its line never fills the buffer. */
static void
test_no_newline_never_fills (void)
{
  LineFramer f;
  char chunk[4096];
  gsize handed = 0;
  const char *line = NULL;
  gsize len = 0;

  memset (chunk, 'y', sizeof chunk);
  line_framer_init (&f, CAP);
  for (int i = 0; i < 200; i++)
    {
      feed (&f, chunk, sizeof chunk);
      while (line_framer_take (&f, FALSE, &line, &len))
        {
          g_assert_cmpuint (len, ==, LINE_FRAMER_MAX_LINE);
          handed += len;
        }
      line_framer_release (&f);
    }
  g_assert_cmpuint (handed + line_framer_unfinished (&f), ==, 200 * sizeof chunk);
  line_framer_clear (&f);
}

/* What was handed out stays where it is until released. */
static void
test_pinned_until_release (void)
{
  LineFramer f;
  const char *line = NULL;
  gsize len = 0, room;
  g_autofree char *fill = g_malloc (CAP);

  line_framer_init (&f, CAP);
  memset (fill, 'z', CAP);
  fill[9] = '\n';
  feed (&f, fill, CAP);
  g_assert_true (line_framer_take (&f, FALSE, &line, &len));
  g_assert_cmpuint (len, ==, 10);

  line_framer_space (&f, &room);
  g_assert_cmpuint (room, ==, 0);
  g_assert_cmpmem (line, 10, "zzzzzzzzz\n", 10);

  line_framer_release (&f);
  line_framer_space (&f, &room);
  g_assert_cmpuint (room, ==, 10);
  line_framer_clear (&f);
}

/* Any data in any chunking comes out unchanged, as lines that end in a
 * newline, are full pieces, or are the final flush. */
static void
test_random_chunks (void)
{
  GRand *rand = g_rand_new_with_seed (g_test_rand_int ());

  for (int round = 0; round < 50; round++)
    {
      gsize total = g_rand_int_range (rand, 0, 400000);
      g_autofree char *data = g_malloc (total + 1);
      g_autoptr (GString) out = g_string_new (NULL);
      LineFramer f;
      gsize fed = 0;
      gint32 newline_odds = g_rand_int_range (rand, 1, 100000);

      for (gsize i = 0; i < total; i++)
        data[i] = g_rand_int_range (rand, 0, newline_odds) == 0 ? '\n'
                                                                : (char) g_rand_int (rand);
      line_framer_init (&f, CAP);
      while (fed < total)
        {
          gsize room;
          char *space = line_framer_space (&f, &room);
          gsize chunk = g_rand_int_range (rand, 1, 70000); /* MIN evaluates twice */
          gsize n = MIN (room, MIN (total - fed, chunk));
          g_assert_cmpuint (room, >, 0);
          memcpy (space, data + fed, n);
          line_framer_commit (&f, n);
          fed += n;

          const char *line = NULL;
          gsize len = 0;
          while (line_framer_take (&f, FALSE, &line, &len))
            {
              g_assert_true (line[len - 1] == '\n' || len == LINE_FRAMER_MAX_LINE);
              g_assert_null (memchr (line, '\n', len - 1));
              g_string_append_len (out, line, len);
            }
          line_framer_release (&f);
        }
      const char *line = NULL;
      gsize len = 0;
      while (line_framer_take (&f, TRUE, &line, &len))
        g_string_append_len (out, line, len);
      g_assert_cmpmem (out->str, out->len, data, total);
      line_framer_clear (&f);
    }
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/framer/complete-lines", test_complete_lines);
  g_test_add_func ("/framer/partial-flush", test_partial_flush);
  g_test_add_func ("/framer/cut", test_cut);
  g_test_add_func ("/framer/long-line-pieces", test_long_line_pieces);
  g_test_add_func ("/framer/no-newline-never-fills", test_no_newline_never_fills);
  g_test_add_func ("/framer/pinned-until-release", test_pinned_until_release);
  g_test_add_func ("/framer/random-chunks", test_random_chunks);
  return g_test_run ();
}
