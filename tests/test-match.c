/* Unit tests of pipe-harness's regular expressions: lines of any bytes
 * match as documented, named groups are captured, bad patterns are refused
 * with a reason, and a pattern that blows up on a line is stopped within
 * milliseconds while ordinary patterns on long lines still match. */
#include <string.h>
#include <time.h>

#include "match.h"

static Pattern *
compile (const char *source)
{
  g_autoptr (GError) error = NULL;
  Pattern *pattern = pattern_new (source, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pattern);
  return pattern;
}

static MatchResult
match (const Pattern *pattern, const char *line)
{
  return pattern_match (pattern, line, strlen (line), NULL);
}

static GHashTable *
captures_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static void
test_match_basic (void)
{
  g_autoptr (Pattern) p = compile ("port \\d+");

  g_assert_cmpstr (pattern_source (p), ==, "port \\d+");
  g_assert_null (pattern_group_names (p)[0]);
  g_assert_cmpint (match (p, "listening on port 8080"), ==, MATCH_FOUND);
  g_assert_cmpint (match (p, "listening on port x"), ==, MATCH_NONE);
  g_assert_cmpint (match (p, ""), ==, MATCH_NONE);
}

static void
test_match_empty_line (void)
{
  g_autoptr (Pattern) empty = compile ("^$");
  g_autoptr (Pattern) anything = compile ("");

  g_assert_cmpint (match (empty, ""), ==, MATCH_FOUND);
  g_assert_cmpint (pattern_match (empty, NULL, 0, NULL), ==, MATCH_FOUND);
  g_assert_cmpint (match (empty, "x"), ==, MATCH_NONE);
  g_assert_cmpint (match (anything, ""), ==, MATCH_FOUND);
}

/* The length counts, not a terminating NUL: bytes past len are not seen. */
static void
test_match_nul_bytes (void)
{
  g_autoptr (Pattern) after_nul = compile ("a\\x00b$");
  g_autoptr (Pattern) tail = compile ("tail");
  static const char line[] = "a\0b";

  g_assert_cmpint (pattern_match (after_nul, line, 3, NULL), ==, MATCH_FOUND);
  g_assert_cmpint (pattern_match (after_nul, line, 2, NULL), ==, MATCH_NONE);
  g_assert_cmpint (pattern_match (tail, "head\0tail", 9, NULL), ==, MATCH_FOUND);
  g_assert_cmpint (pattern_match (tail, "head tail", 4, NULL), ==, MATCH_NONE);
}

/* A UTF-8 line is matched by characters, any other byte by byte. */
static void
test_match_utf8_and_bytes (void)
{
  g_autoptr (Pattern) one = compile ("^caf.$");
  g_autoptr (Pattern) two = compile ("^caf..$");
  g_autoptr (Pattern) letters = compile ("^\\w+$");
  g_autoptr (Pattern) accent = compile ("é");
  g_autoptr (Pattern) wide = compile ("\\x{100}");

  g_assert_cmpint (match (one, "café"), ==, MATCH_FOUND);
  g_assert_cmpint (match (two, "café"), ==, MATCH_NONE);
  /* Not UTF-8 (a lone \xff): byte-wise, é is two bytes. */
  g_assert_cmpint (match (two, "caf\xc3\xa9\xff"), ==, MATCH_NONE);
  g_assert_cmpint (match (one, "caf\xff"), ==, MATCH_FOUND);
  g_assert_cmpint (match (two, "caf\xff\xfe"), ==, MATCH_FOUND);
  g_assert_cmpint (match (letters, "garçon"), ==, MATCH_FOUND);
  g_assert_cmpint (match (accent, "x\xff café"), ==, MATCH_FOUND);
  /* A UTF-8 line with a NUL in it is still UTF-8. */
  g_assert_cmpint (pattern_match (one, "café\0", 6, NULL), ==, MATCH_NONE);
  g_assert_cmpint (pattern_match (two, "café\0", 6, NULL), ==, MATCH_FOUND);
  /* Meaningful only in UTF-8: compiles, and never matches other lines. */
  g_assert_cmpint (match (wide, "\xc4\x80"), ==, MATCH_FOUND);
  g_assert_cmpint (match (wide, "\xc4\x80\xff"), ==, MATCH_NONE);
}

static void
test_match_named_groups (void)
{
  g_autoptr (Pattern) p = compile ("(?<key>\\w+)=(?<value>\\d+)|(?<word>x+)|(?<unused>never)?$");
  g_autoptr (GHashTable) captures = captures_new ();
  const char *const *names = pattern_group_names (p);

  /* PCRE2 lists them by name. */
  g_assert_cmpuint (g_strv_length ((char **) names), ==, 4);
  g_assert_true (g_strv_contains (names, "key"));
  g_assert_true (g_strv_contains (names, "value"));
  g_assert_true (g_strv_contains (names, "word"));
  g_assert_true (g_strv_contains (names, "unused"));

  g_assert_cmpint (pattern_match (p, "set port=8080", 13, captures), ==, MATCH_FOUND);
  g_assert_cmpuint (g_hash_table_size (captures), ==, 2);
  g_assert_cmpstr (g_hash_table_lookup (captures, "key"), ==, "port");
  g_assert_cmpstr (g_hash_table_lookup (captures, "value"), ==, "8080");

  g_hash_table_remove_all (captures);
  g_assert_cmpint (pattern_match (p, "a xx", 4, captures), ==, MATCH_FOUND);
  g_assert_cmpuint (g_hash_table_size (captures), ==, 1);
  g_assert_cmpstr (g_hash_table_lookup (captures, "word"), ==, "xx");

  /* Bytes that are not UTF-8 are captured as they are. */
  g_hash_table_remove_all (captures);
  g_autoptr (Pattern) any = compile ("^(?<all>.*)$");
  g_assert_cmpint (pattern_match (any, "\xff\xfe", 2, captures), ==, MATCH_FOUND);
  g_assert_cmpstr (g_hash_table_lookup (captures, "all"), ==, "\xff\xfe");
}

/* Names come from the compiled pattern, not from text that looks like one. */
static void
test_match_group_names_compiled (void)
{
  g_autoptr (Pattern) p = compile ("\\(?<fake>x\\)|[(?<alsofake>]|(?P<python>y)|(?'quoted'z)|(?J)(?<twice>m)|(?<twice>b)");
  const char *const *names = pattern_group_names (p);

  g_assert_cmpuint (g_strv_length ((char **) names), ==, 3);
  g_assert_true (g_strv_contains (names, "python"));
  g_assert_true (g_strv_contains (names, "quoted"));
  g_assert_true (g_strv_contains (names, "twice"));

  g_autoptr (GHashTable) captures = captures_new ();
  g_assert_cmpint (pattern_match (p, "b", 1, captures), ==, MATCH_FOUND);
  g_assert_cmpstr (g_hash_table_lookup (captures, "twice"), ==, "b");
  /* A value already in the table is replaced. */
  g_assert_cmpint (pattern_match (p, "m", 1, captures), ==, MATCH_FOUND);
  g_assert_cmpstr (g_hash_table_lookup (captures, "twice"), ==, "m");
  g_assert_cmpuint (g_hash_table_size (captures), ==, 1);
}

static void
test_match_bad_patterns (void)
{
  static const struct {
    const char *source;
    const char *message;
  } cases[] = {
    { "a(b", "missing closing parenthesis at offset 3" },
    { "x{2,1}", "numbers out of order in {} quantifier at offset 5" },
    { "\\", "\\ at end of pattern at offset 1" },
    { "(?<1x>a)", "subpattern name must start with a non-digit at offset 3" },
    { "caf\xe9", "the regex is not UTF-8 text (write such a byte as \\xNN)" },
    { "\xff", "the regex is not UTF-8 text (write such a byte as \\xNN)" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (Pattern) p = pattern_new (cases[i].source, &error);
      g_assert_null (p);
      g_assert_error (error, MATCH_ERROR, 0);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }
}

static char *
repeat_char (char c, gsize n, const char *tail)
{
  GString *s = g_string_sized_new (n + strlen (tail));
  for (gsize i = 0; i < n; i++)
    g_string_append_c (s, c);
  g_string_append (s, tail);
  return g_string_free (s, FALSE);
}

/* Generous: the limits are set for a few milliseconds each.  All the
 * cases together must stay under it too: with PCRE2's own limits instead of
 * ours, each case takes 12–28 ms and the sum is over 100 ms.  Time is the
 * thread's CPU time: what matching costs, not how busy the machine is. */
#define COSTLY_BOUND_US (50 * 1000)

static gint64
cpu_time_us (void)
{
  struct timespec t;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &t);
  return (gint64) t.tv_sec * G_USEC_PER_SEC + t.tv_nsec / 1000;
}

static void
test_match_too_costly (void)
{
  g_autofree char *a_then_b = repeat_char ('a', 299, "b");
  g_autofree char *x_then_zy = repeat_char ('x', 300, "zy");
  g_autofree char *x_then_a = g_strconcat ("x", a_then_b, NULL);
  g_autofree char *long_x_then_zy = repeat_char ('x', 60000, "zy");
  const struct {
    const char *source;
    const char *line;
  } cases[] = {
    { "^(a+)+$", a_then_b },
    { "(a|aa)+$", a_then_b },
    { "(a|a)+$", a_then_b },
    { "^(a*)*$", a_then_b },
    { "(x+x+)+y", x_then_zy },
    { "(x+x+)+y", long_x_then_zy },
    /* (.*)* tries every way to cut the line before the empty one that
     * matches: refused, although it would match in the end. */
    { "(.*)*x", x_then_a },
  };

  gint64 total = 0;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (Pattern) p = compile (cases[i].source);
      g_autoptr (GHashTable) captures = captures_new ();
      gint64 start = cpu_time_us ();
      MatchResult result = pattern_match (p, cases[i].line, strlen (cases[i].line),
                                          captures);
      gint64 took = cpu_time_us () - start;
      g_test_message ("/%s/ on %zu bytes: %d in %" G_GINT64_FORMAT " us",
                      cases[i].source, strlen (cases[i].line), result, took);
      g_assert_cmpint (result, ==, MATCH_TOO_COSTLY);
      g_assert_cmpint (took, <, COSTLY_BOUND_US);
      g_assert_cmpuint (g_hash_table_size (captures), ==, 0);
      total += took;
    }
  g_assert_cmpint (total, <, COSTLY_BOUND_US);
}

/* A match past a small part of the cost limit says it took long, and
 * gives the answer the whole limit gives, on UTF-8, ASCII and other lines. */
static void
test_match_timed (void)
{
  g_autoptr (Pattern) plain = compile ("^line (?<n>\\d+)$");
  g_autoptr (Pattern) blowup = compile ("^(?:é|\\xff)?(a+)+$|^(?<run>a+)b$");
  g_autoptr (GHashTable) captures = captures_new ();
  /* 2^14 ways to cut the a's: past the quick limit, well within the whole. */
  g_autofree char *ascii = repeat_char ('a', 14, "b");
  g_autofree char *utf8 = g_strconcat ("é", ascii, NULL);
  g_autofree char *bytes = g_strconcat ("\xff", ascii, NULL);
  gboolean took_long = TRUE;

  g_assert_cmpint (pattern_match_timed (plain, "line 42", 7, captures, &took_long), ==,
                   MATCH_FOUND);
  g_assert_false (took_long);
  g_assert_cmpstr (g_hash_table_lookup (captures, "n"), ==, "42");
  took_long = TRUE;
  g_assert_cmpint (pattern_match_timed (plain, "line x", 6, NULL, &took_long), ==, MATCH_NONE);
  g_assert_false (took_long);

  took_long = FALSE;
  g_assert_cmpint (pattern_match_timed (blowup, ascii, strlen (ascii), captures, &took_long),
                   ==, MATCH_FOUND);
  g_assert_true (took_long);
  g_assert_cmpstr (g_hash_table_lookup (captures, "run"), ==, "aaaaaaaaaaaaaa");
  const char *others[] = { utf8, bytes };
  for (guint i = 0; i < G_N_ELEMENTS (others); i++)
    {
      took_long = FALSE;
      g_assert_cmpint (pattern_match_timed (blowup, others[i], strlen (others[i]), NULL,
                                            &took_long), ==, MATCH_NONE);
      g_assert_true (took_long);
    }
}

/* 64 KiB lines, and patterns that backtrack once per byte of them. */
static void
test_match_long_lines (void)
{
  const gsize n = 64 * 1024;
  g_autofree char *words = g_malloc (n + 1);
  for (gsize i = 0; i < n; i++)
    words[i] = i % 6 == 5 ? ' ' : 'a' + i % 26;
  words[n] = '\0';
  g_autofree char *assignment = repeat_char ('k', 100, "=");
  g_autofree char *value = repeat_char ('v', n - 102, "x");
  g_autofree char *key_value = g_strconcat (assignment, value, NULL);
  const struct {
    const char *source;
    const char *line;
    MatchResult result;
  } cases[] = {
    { "^(?<k>\\w+)=(?<v>.*)$", key_value, MATCH_FOUND },
    { ".*x$", key_value, MATCH_FOUND },
    { "(\\w+)\\s+(\\w+)$", words, MATCH_FOUND },
    { "^(?:[a-z]+ ?)*$", words, MATCH_FOUND },
    { "^(?:\\w|\\s)*$", words, MATCH_FOUND },
    { "^(\\w+ )*\\w*$", words, MATCH_FOUND },
    { "error: .*timeout", words, MATCH_NONE },
    { "(?<n>\\d+) items", words, MATCH_NONE },
    { "\\s+$", words, MATCH_NONE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (Pattern) p = compile (cases[i].source);
      g_autoptr (GHashTable) captures = captures_new ();
      g_assert_cmpuint (strlen (cases[i].line), ==, n);
      MatchResult result = pattern_match (p, cases[i].line, n, captures);
      if (result != cases[i].result)
        g_error ("/%s/ on a 64 KiB line gave %d, not %d", cases[i].source,
                 result, cases[i].result);
    }

  g_autoptr (Pattern) p = compile ("^(?<k>\\w+)=(?<v>.*)$");
  g_autoptr (GHashTable) captures = captures_new ();
  g_assert_cmpint (pattern_match (p, key_value, n, captures), ==, MATCH_FOUND);
  g_assert_cmpuint (strlen (g_hash_table_lookup (captures, "v")), ==, n - 101);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/match/basic", test_match_basic);
  g_test_add_func ("/match/empty-line", test_match_empty_line);
  g_test_add_func ("/match/nul-bytes", test_match_nul_bytes);
  g_test_add_func ("/match/utf8-and-bytes", test_match_utf8_and_bytes);
  g_test_add_func ("/match/named-groups", test_match_named_groups);
  g_test_add_func ("/match/group-names-compiled", test_match_group_names_compiled);
  g_test_add_func ("/match/bad-patterns", test_match_bad_patterns);
  g_test_add_func ("/match/too-costly", test_match_too_costly);
  g_test_add_func ("/match/long-lines", test_match_long_lines);
  g_test_add_func ("/match/timed", test_match_timed);
  return g_test_run ();
}
