/* match: the regular expressions of scripts and --ready, on PCRE2; see
 * match.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "match.h"

#include <pcre2.h>
#include <string.h>

G_DEFINE_QUARK (match-error-quark, match_error)

/* The cost limit of one match.  Measured on the development machine (2
 * shared cores, PCRE2 10.42), one pattern_match call each, on lines of 300
 * bytes that blow up: ^(a+)+$ and (a|aa)+$ and (a|a)+$ on "aaa…ab",
 * ^(a*)*$ likewise, (x+x+)+y on "xxx…xzy", (.*)*x on "xaaa…a".  With JIT
 * they reach MATCH_LIMIT_JIT in 1.2–2.7 ms; interpreted (no JIT), the
 * limits below in 2.1–3.0 ms.  Ordinary patterns on 64 KiB lines stay well
 * below: ^(?<k>\w+)=(?<v>.*)$, .*x$, (\w+)\s+(\w+)$ need a match limit
 * under 10; ^(?:[a-z]+ ?)*$ 22 000 with JIT (33 000 interpreted, depth
 * 33 000, JIT stack 340 KiB); ^(?:\w|\s)*$, a group repeated once per
 * byte, 131 000 interpreted, depth 75 000 and a JIT stack of 1.5 MiB, the
 * most of any we tried: hence JIT_STACK_MAX.  The JIT counts its limit in
 * smaller steps than the interpreter, hence two limits. */
#define MATCH_LIMIT_JIT 1000000
#define MATCH_LIMIT_INTERPRETED 250000
/* A match is tried first within a limit this many times smaller: nearly
 * every match ends within it, and only the others, run again with the whole
 * limit, are said to take long.  The patterns above reach it in 3–6 µs on
 * their 300-byte lines, with JIT or without; ^(?:\w|\s)*$ on 64 KiB (a
 * step per byte) in 20 µs interpreted, 175 µs with JIT: up to about 3 ns a
 * byte. */
#define QUICK_LIMIT_DIVISOR 500
#define MATCH_DEPTH_LIMIT 200000
#define MATCH_HEAP_LIMIT_KIB (64 * 1024)
#define JIT_STACK_START (32 * 1024)
#define JIT_STACK_MAX (2 * 1024 * 1024)

struct Pattern {
  char *source;
  pcre2_code *utf;          /* for lines that are valid UTF-8 */
  pcre2_code *bytes;        /* for the others; NULL if only UTF-8 makes sense
                             * of the pattern (like \x{100}) */
  gboolean utf_jit;         /* utf is JIT-compiled */
  char **group_names;       /* distinct, NULL-terminated */
  pcre2_jit_stack *jit_stack; /* NULL when JIT is not available */
  pcre2_match_context *context;
  pcre2_match_context *quick; /* the same, with a match limit for a quick match */
  pcre2_match_data *match;  /* the ovector of every match, made once: both
                             * codes have the same groups */
};

void
pattern_free (Pattern *pattern)
{
  if (pattern == NULL)
    return;
  g_free (pattern->source);
  pcre2_code_free (pattern->utf);
  pcre2_code_free (pattern->bytes);
  g_strfreev (pattern->group_names);
  pcre2_jit_stack_free (pattern->jit_stack);
  pcre2_match_context_free (pattern->context);
  pcre2_match_context_free (pattern->quick);
  pcre2_match_data_free (pattern->match);
  g_free (pattern);
}

const char *
pattern_source (const Pattern *pattern)
{
  return pattern->source;
}

const char *const *
pattern_group_names (const Pattern *pattern)
{
  return (const char *const *) pattern->group_names;
}

static pcre2_code *
compile (const char *source, uint32_t options, GError **error)
{
  int code;
  PCRE2_SIZE offset;
  pcre2_code *re = pcre2_compile ((PCRE2_SPTR) source, PCRE2_ZERO_TERMINATED,
                                  options, &code, &offset, NULL);
  if (re == NULL)
    {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message (code, message, sizeof message);
      g_set_error (error, MATCH_ERROR, 0, "%s at offset %zu", (char *) message,
                   (size_t) offset);
    }
  return re;
}

/* Walks a name table: entries of entry_size bytes, a 16-bit group number
 * (most significant byte first) then the NUL-terminated name. */
typedef struct {
  const guint8 *table;
  guint32 count;
  guint32 entry_size;
} NameTable;

static NameTable
name_table (const pcre2_code *re)
{
  NameTable names = { 0 };
  PCRE2_SPTR table = NULL;

  pcre2_pattern_info (re, PCRE2_INFO_NAMECOUNT, &names.count);
  pcre2_pattern_info (re, PCRE2_INFO_NAMEENTRYSIZE, &names.entry_size);
  pcre2_pattern_info (re, PCRE2_INFO_NAMETABLE, &table);
  names.table = table;
  return names;
}

static guint
name_table_group (const NameTable *names, guint32 i)
{
  const guint8 *entry = names->table + (gsize) i * names->entry_size;
  return (guint) entry[0] << 8 | entry[1];
}

static const char *
name_table_name (const NameTable *names, guint32 i)
{
  return (const char *) names->table + (gsize) i * names->entry_size + 2;
}

/* The distinct names (a name is listed once per group with (?J)). */
static char **
group_names (const pcre2_code *re)
{
  NameTable names = name_table (re);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  const char *previous = NULL;

  /* The table is sorted by name, so duplicates are neighbours. */
  for (guint32 i = 0; i < names.count; i++)
    {
      const char *name = name_table_name (&names, i);
      if (previous == NULL || strcmp (previous, name) != 0)
        g_strv_builder_add (builder, name);
      previous = name;
    }
  return g_strv_builder_end (builder);
}

/* JIT-compiles when the machine allows; the interpreter runs otherwise. */
static gboolean
jit_compile (pcre2_code *re)
{
  return re != NULL && pcre2_jit_compile (re, PCRE2_JIT_COMPLETE) == 0;
}

Pattern *
pattern_new (const char *source, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (!g_utf8_validate (source, -1, NULL))
    {
      g_set_error (error, MATCH_ERROR, 0,
                   "the regex is not UTF-8 text (write such a byte as \\xNN)");
      return NULL;
    }

  g_autoptr (Pattern) pattern = g_new0 (Pattern, 1);
  pattern->source = g_strdup (source);
  /* UCP as well, so that \w and \d know letters and digits beyond ASCII. */
  pattern->utf = compile (source, PCRE2_UTF | PCRE2_UCP, error);
  if (pattern->utf == NULL)
    return NULL;
  pattern->bytes = compile (source, 0, &local);
  pattern->group_names = group_names (pattern->utf);

  pattern->utf_jit = jit_compile (pattern->utf);
  gboolean jit = jit_compile (pattern->bytes) && pattern->utf_jit;

  pattern->match = pcre2_match_data_create_from_pattern (pattern->utf, NULL);
  pattern->context = pcre2_match_context_create (NULL);
  pcre2_set_depth_limit (pattern->context, MATCH_DEPTH_LIMIT);
  pcre2_set_heap_limit (pattern->context, MATCH_HEAP_LIMIT_KIB);
  guint32 limit = jit ? MATCH_LIMIT_JIT : MATCH_LIMIT_INTERPRETED;
  pcre2_set_match_limit (pattern->context, limit);
  if (jit)
    {
      pattern->jit_stack = pcre2_jit_stack_create (JIT_STACK_START, JIT_STACK_MAX, NULL);
      pcre2_jit_stack_assign (pattern->context, NULL, pattern->jit_stack);
    }
  pattern->quick = pcre2_match_context_copy (pattern->context);
  pcre2_set_match_limit (pattern->quick, limit / QUICK_LIMIT_DIVISOR);
  return g_steal_pointer (&pattern);
}

static gboolean
is_utf8_error (int rc)
{
  return rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21;
}

static void
capture (const pcre2_code *re, pcre2_match_data *match, const char *line,
         GHashTable *captures)
{
  NameTable names = name_table (re);
  PCRE2_SIZE *ovector = pcre2_get_ovector_pointer (match);
  guint32 pairs = pcre2_get_ovector_count (match);

  const char *taken = NULL; /* the last name given a value */

  for (guint32 i = 0; i < names.count; i++)
    {
      guint group = name_table_group (&names, i);
      const char *name = name_table_name (&names, i);
      /* With (?J), a name is listed once per group, next to each other:
       * the first of them that took part gives the value. */
      if (group >= pairs || ovector[2 * group] == PCRE2_UNSET ||
          (taken != NULL && strcmp (taken, name) == 0))
        continue;
      taken = name;
      PCRE2_SIZE start = ovector[2 * group], end = ovector[2 * group + 1];
      /* \K in a lookahead can end a group before it starts. */
      gsize len = end > start ? end - start : 0;
      char *value = g_malloc (len + 1);
      memcpy (value, line + start, len);
      value[len] = '\0';
      g_hash_table_insert (captures, g_strdup (name), value);
    }
}

/* Whether the line is ASCII, eight bytes at a time. */
static gboolean
is_ascii (const char *line, gsize len)
{
  guint64 high = 0;
  gsize i = 0;
  for (; i + 8 <= len; i += 8)
    {
      guint64 word;
      memcpy (&word, line + i, 8);
      high |= word;
    }
  for (; i < len; i++)
    high |= (guchar) line[i];
  return (high & G_GUINT64_CONSTANT (0x8080808080808080)) == 0;
}

/* One match under context; the byte-wise code takes over from the UTF-8
 * one on a line that is not UTF-8.  *re: the code that ran. */
static int
match_once (const Pattern *pattern, pcre2_match_context *context, const char *line,
            gsize len, const pcre2_code **re)
{
  *re = pattern->utf;
  /* An ASCII line is UTF-8: the JIT code runs it without pcre2_match()'s
   * checks, which cost as much as the match itself on a short line. */
  if (pattern->utf_jit && is_ascii (line, len))
    return pcre2_jit_match (*re, (PCRE2_SPTR) line, len, 0, 0, pattern->match, context);
  int rc = pcre2_match (*re, (PCRE2_SPTR) line, len, 0, 0, pattern->match, context);
  if (is_utf8_error (rc))
    {
      *re = pattern->bytes;
      if (*re == NULL)
        return PCRE2_ERROR_NOMATCH;
      rc = pcre2_match (*re, (PCRE2_SPTR) line, len, 0, 0, pattern->match, context);
    }
  return rc;
}

MatchResult
pattern_match_timed (const Pattern *pattern, const char *line, gsize len,
                     GHashTable *captures, gboolean *took_long)
{
  const pcre2_code *re;
  if (line == NULL)
    line = "";

  /* Within the quick limit the answer is the same as within the whole
   * one: the limit only stops a search early. */
  int rc = match_once (pattern, pattern->quick, line, len, &re);
  gboolean quick = rc >= 0 || rc == PCRE2_ERROR_NOMATCH;
  if (!quick)
    rc = match_once (pattern, pattern->context, line, len, &re);
  if (took_long != NULL)
    *took_long = !quick;

  if (rc == PCRE2_ERROR_NOMATCH)
    return MATCH_NONE;
  if (rc < 0)
    return MATCH_TOO_COSTLY;
  if (captures != NULL)
    capture (re, pattern->match, line, captures);
  return MATCH_FOUND;
}

MatchResult
pattern_match (const Pattern *pattern, const char *line, gsize len,
               GHashTable *captures)
{
  return pattern_match_timed (pattern, line, len, captures, NULL);
}
