/* script-parse: the --script language's parser, and the pieces the runner
 * shares with it: durations, signal names, ${var} expansion; see script.h. */
#include "script.h"

#include <signal.h>
#include <string.h>

G_DEFINE_QUARK (script-error-quark, script_error)

#define STEP_NAMES "send, write, expect, refute, fail-on, sleep, close, " \
                   "start, signal, restart, wait, set, repeat, end"
#define MAX_REPEAT_COUNT G_MAXINT
#define MAX_SIGNAL 64

static void
script_regex_clear (ScriptRegex *regex)
{
  g_clear_pointer (&regex->source, g_free);
  g_clear_pointer (&regex->pattern, pattern_free);
}

static void
step_free (gpointer data)
{
  ScriptStep *step = data;
  g_free (step->source);
  g_free (step->text);
  g_free (step->var);
  script_regex_clear (&step->regex);
  script_regex_clear (&step->unless);
  g_free (step);
}

void
script_free (Script *script)
{
  g_free (script->path);
  g_ptr_array_unref (script->steps);
  g_free (script);
}

gboolean
script_step_has_child (StepKind kind)
{
  return kind != STEP_SLEEP && kind != STEP_SET && kind != STEP_REPEAT &&
         kind != STEP_END;
}

/* ------------------------------------------------------------------ */
/* Durations and signals */

char *
script_format_duration (gint64 us)
{
  if (us % G_USEC_PER_SEC == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "s", us / G_USEC_PER_SEC);
  if (us < G_USEC_PER_SEC)
    return g_strdup_printf ("%" G_GINT64_FORMAT "ms", us / 1000);
  return g_strdup_printf ("%.3gs", (double) us / G_USEC_PER_SEC);
}

gboolean
script_parse_duration (const char *text, gint64 *us, GError **error)
{
  const char *p = text;
  double value = 0, scale = G_USEC_PER_SEC;

  if (!g_ascii_isdigit (*p))
    goto bad;
  for (; g_ascii_isdigit (*p); p++)
    value = value * 10 + (*p - '0');
  if (*p == '.')
    {
      if (!g_ascii_isdigit (*++p))
        goto bad;
      for (double frac = 0.1; g_ascii_isdigit (*p); p++, frac /= 10)
        value += (*p - '0') * frac;
    }
  if (strcmp (p, "ms") == 0)
    scale = 1000;
  else if (strcmp (p, "s") != 0 && *p != '\0')
    goto bad;

  if (value * scale > (double) SCRIPT_MAX_TIMEOUT_US)
    {
      g_set_error (error, SCRIPT_ERROR, 0,
                   "duration '%s' is longer than 24 hours", text);
      return FALSE;
    }
  *us = (gint64) (value * scale + 0.5);
  return TRUE;

bad:
  g_set_error (error, SCRIPT_ERROR, 0,
               "'%s' is not a duration (write it like 250ms, 2s or 5)", text);
  return FALSE;
}

static const struct {
  const char *name;
  int signum;
} signal_names[] = {
  { "HUP", SIGHUP },     { "INT", SIGINT },       { "QUIT", SIGQUIT },
  { "ILL", SIGILL },     { "TRAP", SIGTRAP },     { "ABRT", SIGABRT },
  { "BUS", SIGBUS },     { "FPE", SIGFPE },       { "KILL", SIGKILL },
  { "USR1", SIGUSR1 },   { "SEGV", SIGSEGV },     { "USR2", SIGUSR2 },
  { "PIPE", SIGPIPE },   { "ALRM", SIGALRM },     { "TERM", SIGTERM },
  { "CHLD", SIGCHLD },   { "CONT", SIGCONT },     { "STOP", SIGSTOP },
  { "TSTP", SIGTSTP },   { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU },
  { "URG", SIGURG },     { "XCPU", SIGXCPU },     { "XFSZ", SIGXFSZ },
  { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },   { "WINCH", SIGWINCH },
  { "IO", SIGIO },       { "PWR", SIGPWR },       { "SYS", SIGSYS },
};

int
script_parse_signal (const char *text)
{
  if (g_ascii_isdigit (*text))
    {
      guint64 number;
      if (!g_ascii_string_to_unsigned (text, 10, 1, MAX_SIGNAL, &number, NULL))
        return 0;
      return (int) number;
    }
  if (g_ascii_strncasecmp (text, "SIG", 3) == 0)
    text += 3;
  for (guint i = 0; i < G_N_ELEMENTS (signal_names); i++)
    if (g_ascii_strcasecmp (text, signal_names[i].name) == 0)
      return signal_names[i].signum;
  return 0;
}

const char *
script_signal_name (int signum)
{
  for (guint i = 0; i < G_N_ELEMENTS (signal_names); i++)
    if (signal_names[i].signum == signum)
      return signal_names[i].name;
  g_autofree char *number = g_strdup_printf ("%d", signum);
  return g_intern_string (number);
}

/* ------------------------------------------------------------------ */
/* ${var} expansion */

gboolean
script_is_variable_name (const char *name, gsize len)
{
  if (len == 0 || !(g_ascii_isalpha (name[0]) || name[0] == '_'))
    return FALSE;
  for (gsize i = 1; i < len; i++)
    if (!(g_ascii_isalnum (name[i]) || name[i] == '_'))
      return FALSE;
  return TRUE;
}

/* A value that matches itself: every ASCII character that is not a letter
 * or digit is escaped (in PCRE2, a backslash before such a character
 * always stands for the character). */
static void
append_regex_literal (GString *out, const char *value)
{
  for (const char *c = value; *c != '\0'; c++)
    {
      if ((guchar) *c < 0x80 && !g_ascii_isalnum (*c))
        g_string_append_c (out, '\\');
      g_string_append_c (out, *c);
    }
}

/* Decodes the escape at p (a backslash); returns where it ends, or NULL. */
static const char *
append_escape (GString *out, const char *p, GError **error)
{
  switch (p[1])
    {
    case 'n':
      g_string_append_c (out, '\n');
      return p + 2;
    case 'r':
      g_string_append_c (out, '\r');
      return p + 2;
    case 't':
      g_string_append_c (out, '\t');
      return p + 2;
    case '\\':
      g_string_append_c (out, '\\');
      return p + 2;
    case 'x':
      if (g_ascii_isxdigit (p[2]) && g_ascii_isxdigit (p[3]))
        {
          g_string_append_c (out, (char) (g_ascii_xdigit_value (p[2]) << 4 |
                                          g_ascii_xdigit_value (p[3])));
          return p + 4;
        }
      g_set_error (error, SCRIPT_ERROR, 0,
                   "'\\x' needs two hex digits, like \\x1b");
      return NULL;
    case '\0':
      g_set_error (error, SCRIPT_ERROR, 0,
                   "a '\\' ends the text (write \\\\ for a backslash)");
      return NULL;
    default:
      {
        const char *next = g_utf8_find_next_char (p + 1, NULL);
        g_set_error (error, SCRIPT_ERROR, 0,
                     "unknown escape '\\%.*s' (the escapes are \\n \\r \\t "
                     "\\\\ \\xHH)", (int) (next - p - 1), p + 1);
        return NULL;
      }
    }
}

gboolean
script_expand (const char *text, ScriptExpandMode mode,
               ScriptLookupFunc lookup, gpointer data, GString *out,
               GError **error)
{
  for (const char *p = text; *p != '\0';)
    {
      if (g_str_has_prefix (p, "$${"))
        {
          g_string_append (out, mode == EXPAND_REGEX ? "\\$\\{" : "${");
          p += 3;
          continue;
        }
      if (mode == EXPAND_ESCAPES && *p == '\\')
        {
          p = append_escape (out, p, error);
          if (p == NULL)
            return FALSE;
          continue;
        }
      if (!g_str_has_prefix (p, "${"))
        {
          g_string_append_c (out, *p++);
          continue;
        }

      const char *name = p + 2;
      const char *close = strchr (name, '}');
      if (close == NULL)
        {
          g_set_error (error, SCRIPT_ERROR, 0,
                       "'${' without a closing '}' (write $${ for a "
                       "literal ${)");
          return FALSE;
        }
      g_autofree char *var = g_strndup (name, close - name);
      if (!script_is_variable_name (var, close - name))
        {
          g_set_error (error, SCRIPT_ERROR, 0,
                       "'${%s}' is not a variable name (a letter or _, then "
                       "letters, digits, _)", var);
          return FALSE;
        }
      const char *value = lookup (var, data);
      if (value == NULL)
        {
          g_set_error (error, SCRIPT_ERROR, 0, "variable '%s' is not set", var);
          return FALSE;
        }
      if (mode == EXPAND_REGEX)
        append_regex_literal (out, value);
      else
        g_string_append (out, value);
      p = close + 1;
    }
  return TRUE;
}

/* Whether text holds a ${var} ("$${" is none). */
static gboolean
holds_variable (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    {
      if (g_str_has_prefix (p, "$${"))
        p += 2;
      else if (g_str_has_prefix (p, "${"))
        return TRUE;
    }
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* The parser */

typedef struct {
  const char *path;
  const char *const *names;
  const char *const *vars;
  /* name → how many definitions are in force: set and named groups add
   * one for good, a repeat adds one for "i" until its end */
  GHashTable *defined;
  GArray *open_repeats; /* guint: indices of repeats not yet ended */
  gboolean unknown;     /* lookup_defined met a variable it does not know */
  guint line_no;
} Parser;

static gboolean G_GNUC_PRINTF (3, 4)
parse_fail (Parser *ps, GError **error, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *what = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, SCRIPT_ERROR, 0, "%s:%u: %s", ps->path, ps->line_no, what);
  return FALSE;
}

static void
define (Parser *ps, const char *name)
{
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (ps->defined, name));
  g_hash_table_insert (ps->defined, g_strdup (name), GUINT_TO_POINTER (count + 1));
}

static void
undefine (Parser *ps, const char *name)
{
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (ps->defined, name));
  if (count <= 1)
    g_hash_table_remove (ps->defined, name);
  else
    g_hash_table_insert (ps->defined, g_strdup (name), GUINT_TO_POINTER (count - 1));
}

/* At parse time a defined variable's value is not known yet: "". */
static const char *
lookup_defined (const char *name, gpointer data)
{
  Parser *ps = data;
  if (g_hash_table_contains (ps->defined, name) ||
      (ps->vars != NULL && g_strv_contains (ps->vars, name)))
    return "";
  const char *value = g_getenv (name);
  ps->unknown = value == NULL;
  return value;
}

/* Checks the ${var} of text (and its escapes, in EXPAND_ESCAPES). */
static gboolean
check_expansion (Parser *ps, const char *text, ScriptExpandMode mode,
                 GError **error)
{
  g_autoptr (GString) ignored = g_string_new (NULL);
  g_autoptr (GError) local = NULL;

  ps->unknown = FALSE;
  if (script_expand (text, mode, lookup_defined, ps, ignored, &local))
    return TRUE;
  if (ps->unknown)
    return parse_fail (ps, error, "%s: nothing before this line defines it "
                       "(a named group of an expect, a set, an enclosing "
                       "repeat's ${i}) and the environment does not have it",
                       local->message);
  return parse_fail (ps, error, "%s", local->message);
}

gboolean
script_valid_child_name (const char *name)
{
  if (*name == '\0' || strlen (name) > SCRIPT_CHILD_NAME_MAX)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

gboolean
script_is_blank (char c)
{
  return c == ' ' || c == '\t';
}

const char *
script_skip_blanks (const char *p)
{
  while (script_is_blank (*p))
    p++;
  return p;
}

char *
script_next_word (const char **rest)
{
  const char *start = script_skip_blanks (*rest);
  const char *end = start;
  while (*end != '\0' && !script_is_blank (*end))
    end++;
  *rest = end;
  return g_strndup (start, end - start);
}

static gboolean
expect_end (Parser *ps, const char *rest, const char *after, GError **error)
{
  rest = script_skip_blanks (rest);
  if (*rest != '\0')
    return parse_fail (ps, error, "unexpected '%s' after %s", rest, after);
  return TRUE;
}

static gboolean
parse_child (Parser *ps, const char *keyword, const char **rest, guint *child,
             GError **error)
{
  g_autofree char *name = script_next_word (rest);
  g_autofree char *known = g_strjoinv (", ", (char **) ps->names);

  if (*name == '\0')
    return parse_fail (ps, error, "%s needs a child name (the children are %s)",
                       keyword, known);
  for (guint i = 0; ps->names[i] != NULL; i++)
    if (strcmp (ps->names[i], name) == 0)
      {
        *child = i;
        return TRUE;
      }
  return parse_fail (ps, error, "unknown child '%s' (the children are %s)",
                     name, known);
}

static gboolean
parse_duration_word (Parser *ps, const char *word, gint64 *us, GError **error)
{
  g_autoptr (GError) local = NULL;
  if (!script_parse_duration (word, us, &local))
    return parse_fail (ps, error, "%s", local->message);
  return TRUE;
}

/* An optional timeout, then the end of the line. */
static gboolean
parse_optional_timeout (Parser *ps, const char *rest, gint64 *us,
                        GError **error)
{
  g_autofree char *word = script_next_word (&rest);

  *us = SCRIPT_DEFAULT_TIMEOUT_US;
  if (*word == '\0')
    return TRUE;
  return parse_duration_word (ps, word, us, error) &&
         expect_end (ps, rest, "the timeout", error);
}

/* The text after the one blank that follows the child's name (or the
 * variable's): every other character kept. */
static const char *
text_after_word (const char *rest)
{
  return script_is_blank (*rest) ? rest + 1 : rest;
}

/* When a pattern holds ${var}, its named groups are known by compiling it
 * with this in place of each value (values are literal text). */
static const char *
lookup_placeholder (const char *name, gpointer data)
{
  (void) name;
  (void) data;
  return "x";
}

/* A /regex/ at *rest; *rest is left after the closing slash.  The regex is
 * compiled unless it holds ${var}.  groups (may be NULL) gets the names of
 * its named groups. */
static gboolean
parse_regex (Parser *ps, const char *keyword, const char **rest,
             ScriptRegex *regex, GStrv *groups, GError **error)
{
  const char *start = script_skip_blanks (*rest);

  if (*start != '/')
    return parse_fail (ps, error, "%s needs a /REGEX/ here", keyword);
  const char *end = start + 1;
  while (*end != '\0' && *end != '/')
    end += (*end == '\\' && end[1] != '\0') ? 2 : 1;
  if (*end != '/')
    return parse_fail (ps, error, "the regex has no closing '/' (write \\/ "
                       "for a slash inside it)");
  if (end[1] != '\0' && !script_is_blank (end[1]))
    return parse_fail (ps, error, "unexpected '%s' right after the regex "
                       "(options go inside it, like /(?i)abc/)", end + 1);
  *rest = end + 1;
  regex->source = g_strndup (start + 1, end - start - 1);

  if (!g_utf8_validate (regex->source, -1, NULL))
    return parse_fail (ps, error, "the regex is not UTF-8 text (write such a "
                       "byte as \\xNN)");
  if (!check_expansion (ps, regex->source, EXPAND_REGEX, error))
    return FALSE;

  gboolean variables = holds_variable (regex->source);
  g_autoptr (GString) expanded = g_string_new (NULL);
  script_expand (regex->source, EXPAND_REGEX, lookup_placeholder, NULL,
                 expanded, NULL);
  g_autoptr (GError) local = NULL;
  g_autoptr (Pattern) pattern = pattern_new (expanded->str, &local);
  if (pattern == NULL && !variables)
    return parse_fail (ps, error, "bad regex /%s/: %s", regex->source,
                       local->message);
  /* With ${var}, a pattern that does not compile here may yet compile with
   * the values it gets when it runs; it defines no variable meanwhile. */
  if (groups != NULL)
    *groups = pattern != NULL
                ? g_strdupv ((char **) pattern_group_names (pattern))
                : g_new0 (char *, 1);
  if (!variables)
    regex->pattern = g_steal_pointer (&pattern);
  return TRUE;
}

static gboolean
parse_expect (Parser *ps, ScriptStep *step, const char *rest, GError **error)
{
  g_auto (GStrv) groups = NULL;

  if (!parse_regex (ps, "expect", &rest, &step->regex, &groups, error))
    return FALSE;
  step->timeout_us = SCRIPT_DEFAULT_TIMEOUT_US;
  g_autofree char *word = script_next_word (&rest);
  if (*word != '\0' && strcmp (word, "unless") != 0)
    {
      if (!parse_duration_word (ps, word, &step->timeout_us, error))
        return FALSE;
      g_free (word);
      word = script_next_word (&rest);
    }
  if (strcmp (word, "unless") == 0)
    {
      if (!parse_regex (ps, "unless", &rest, &step->unless, NULL, error) ||
          !expect_end (ps, rest, "the unless regex", error))
        return FALSE;
    }
  else if (*word != '\0')
    return parse_fail (ps, error, "unexpected '%s' after the timeout "
                       "(expect NAME /RE/ [T] [unless /BAD/])", word);

  /* Defined from the next step on: neither its own pattern nor its unless
   * sees them. */
  for (guint i = 0; groups[i] != NULL; i++)
    define (ps, groups[i]);
  return TRUE;
}

static gboolean
parse_refute (Parser *ps, ScriptStep *step, const char *rest, GError **error)
{
  if (!parse_regex (ps, "refute", &rest, &step->regex, NULL, error))
    return FALSE;
  g_autofree char *word = script_next_word (&rest);
  if (*word == '\0')
    return parse_fail (ps, error, "refute needs a duration after the regex, "
                       "like 2s: how long no line may match");
  return parse_duration_word (ps, word, &step->timeout_us, error) &&
         expect_end (ps, rest, "the duration", error);
}

static gboolean
parse_fail_on (Parser *ps, ScriptStep *step, const char *rest, GError **error)
{
  const char *p = script_skip_blanks (rest);
  if (g_str_has_prefix (p, "none") && (p[4] == '\0' || script_is_blank (p[4])))
    return expect_end (ps, p + 4, "none", error);
  if (*p != '/')
    return parse_fail (ps, error, "fail-on needs a /REGEX/, or none to "
                       "clear it");
  return parse_regex (ps, "fail-on", &rest, &step->regex, NULL, error) &&
         expect_end (ps, rest, "the regex", error);
}

static gboolean
parse_sleep (Parser *ps, ScriptStep *step, const char *rest, GError **error)
{
  g_autofree char *word = script_next_word (&rest);
  if (*word == '\0')
    return parse_fail (ps, error, "sleep needs a duration, like 250ms, 2s or 5");
  return parse_duration_word (ps, word, &step->timeout_us, error) &&
         expect_end (ps, rest, "the duration", error);
}

static gboolean
parse_signal_step (Parser *ps, ScriptStep *step, const char *rest,
                   GError **error)
{
  g_autofree char *word = script_next_word (&rest);
  if (*word == '\0')
    return parse_fail (ps, error, "signal needs a signal after the child "
                       "name, like TERM, INT, KILL, HUP, USR1 or 15");
  step->signum = script_parse_signal (word);
  if (step->signum == 0)
    return parse_fail (ps, error, "'%s' is not a signal (write TERM, INT, "
                       "KILL, HUP, USR1, USR2, STOP, CONT… or a number from "
                       "1 to %d)", word, MAX_SIGNAL);
  return expect_end (ps, rest, "the signal", error);
}

static gboolean
parse_wait (Parser *ps, ScriptStep *step, const char *rest, GError **error)
{
  const char *after_word = rest;
  g_autofree char *word = script_next_word (&after_word);

  step->accept = WAIT_EXIT;
  step->wait_value = 0;
  if (strcmp (word, "exit") == 0)
    {
      g_autofree char *status = script_next_word (&after_word);
      guint64 value;
      if (!g_ascii_string_to_unsigned (status, 10, 0, 255, &value, NULL))
        return parse_fail (ps, error, "wait %s exit needs a status from 0 "
                           "to 255, not '%s'", ps->names[step->child], status);
      step->wait_value = (int) value;
      rest = after_word;
    }
  else if (strcmp (word, "signal") == 0)
    {
      g_autofree char *name = script_next_word (&after_word);
      step->accept = WAIT_SIGNAL;
      step->wait_value = script_parse_signal (name);
      if (step->wait_value == 0)
        return parse_fail (ps, error, "'%s' is not a signal (write TERM, INT, "
                           "KILL, HUP, USR1, USR2, STOP, CONT… or a number "
                           "from 1 to %d)", name, MAX_SIGNAL);
      rest = after_word;
    }
  else if (strcmp (word, "any") == 0)
    {
      step->accept = WAIT_ANY_END;
      rest = after_word;
    }
  else if (*word != '\0' && !g_ascii_isdigit (*word))
    return parse_fail (ps, error, "unexpected '%s' after the child name (wait "
                       "NAME [exit N | signal SIG | any] [T])", word);
  return parse_optional_timeout (ps, rest, &step->timeout_us, error);
}

static gboolean
parse_set (Parser *ps, ScriptStep *step, const char *rest, GError **error)
{
  step->var = script_next_word (&rest);
  if (*step->var == '\0')
    return parse_fail (ps, error, "set needs a variable name and a value, "
                       "like set user alice");
  if (!script_is_variable_name (step->var, strlen (step->var)))
    return parse_fail (ps, error, "'%s' is not a variable name (a letter or _, "
                       "then letters, digits, _)", step->var);
  step->text = g_strdup (text_after_word (rest));
  if (!check_expansion (ps, step->text, EXPAND_PLAIN, error))
    return FALSE;
  define (ps, step->var);
  return TRUE;
}

static gboolean
parse_repeat (Parser *ps, ScriptStep *step, guint index, const char *rest,
              GError **error)
{
  step->text = script_next_word (&rest);
  if (*step->text == '\0')
    return parse_fail (ps, error, "repeat needs a count, like repeat 3 or "
                       "repeat ${n}");
  if (!expect_end (ps, rest, "the count", error))
    return FALSE;
  if (holds_variable (step->text))
    {
      if (!check_expansion (ps, step->text, EXPAND_PLAIN, error))
        return FALSE;
    }
  else if (!g_ascii_string_to_unsigned (step->text, 10, 0, MAX_REPEAT_COUNT,
                                        NULL, NULL))
    return parse_fail (ps, error, "'%s' is not a count (a whole number from "
                       "0 to %d, or a ${var} that holds one)", step->text,
                       MAX_REPEAT_COUNT);
  g_array_append_val (ps->open_repeats, index);
  define (ps, "i");
  return TRUE;
}

static gboolean
parse_end (Parser *ps, ScriptStep *step, guint index, GPtrArray *steps,
           const char *rest, GError **error)
{
  if (!expect_end (ps, rest, "end", error))
    return FALSE;
  if (ps->open_repeats->len == 0)
    return parse_fail (ps, error, "end without a repeat");
  guint repeat = g_array_index (ps->open_repeats, guint, ps->open_repeats->len - 1);
  g_array_set_size (ps->open_repeats, ps->open_repeats->len - 1);
  ScriptStep *opening = g_ptr_array_index (steps, repeat);
  opening->jump = index;
  step->jump = repeat;
  undefine (ps, "i");
  return TRUE;
}

static gboolean
parse_step (Parser *ps, ScriptStep *step, guint index, GPtrArray *steps,
            const char *line, GError **error)
{
  const char *rest = line;
  g_autofree char *keyword = script_next_word (&rest);
  static const struct {
    const char *keyword;
    StepKind kind;
  } kinds[] = {
    { "send", STEP_SEND },       { "write", STEP_WRITE },
    { "expect", STEP_EXPECT },   { "refute", STEP_REFUTE },
    { "fail-on", STEP_FAIL_ON }, { "sleep", STEP_SLEEP },
    { "close", STEP_CLOSE },     { "start", STEP_START },
    { "signal", STEP_SIGNAL },   { "restart", STEP_RESTART },
    { "wait", STEP_WAIT },       { "set", STEP_SET },
    { "repeat", STEP_REPEAT },   { "end", STEP_END },
  };
  guint k = 0;
  while (k < G_N_ELEMENTS (kinds) && strcmp (kinds[k].keyword, keyword) != 0)
    k++;
  if (k == G_N_ELEMENTS (kinds))
    return parse_fail (ps, error, "unknown step '%s' (steps are " STEP_NAMES ")",
                       keyword);
  step->kind = kinds[k].kind;

  if (script_step_has_child (step->kind) &&
      !parse_child (ps, keyword, &rest, &step->child, error))
    return FALSE;

  switch (step->kind)
    {
    case STEP_SEND:
      step->text = g_strdup (text_after_word (rest));
      return check_expansion (ps, step->text, EXPAND_PLAIN, error);
    case STEP_WRITE:
      step->text = g_strdup (text_after_word (rest));
      return check_expansion (ps, step->text, EXPAND_ESCAPES, error);
    case STEP_EXPECT:
      return parse_expect (ps, step, rest, error);
    case STEP_REFUTE:
      return parse_refute (ps, step, rest, error);
    case STEP_FAIL_ON:
      return parse_fail_on (ps, step, rest, error);
    case STEP_SLEEP:
      return parse_sleep (ps, step, rest, error);
    case STEP_CLOSE:
    case STEP_START:
      return expect_end (ps, rest, "the child name", error);
    case STEP_SIGNAL:
      return parse_signal_step (ps, step, rest, error);
    case STEP_RESTART:
      return parse_optional_timeout (ps, rest, &step->timeout_us, error);
    case STEP_WAIT:
      return parse_wait (ps, step, rest, error);
    case STEP_SET:
      return parse_set (ps, step, rest, error);
    case STEP_REPEAT:
      return parse_repeat (ps, step, index, rest, error);
    case STEP_END:
      return parse_end (ps, step, index, steps, rest, error);
    }
  g_assert_not_reached ();
}

Script *
script_parse (const char *path, const char *text, gsize length,
              const char *const *names, const char *const *vars,
              GError **error)
{
  g_autoptr (Script) script = g_new0 (Script, 1);
  g_autoptr (GHashTable) defined = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                          g_free, NULL);
  g_autoptr (GArray) open_repeats = g_array_new (FALSE, FALSE, sizeof (guint));
  Parser ps = { .path = path, .names = names, .vars = vars,
                .defined = defined, .open_repeats = open_repeats };
  const char *end = text + length;

  script->path = g_strdup (path);
  script->steps = g_ptr_array_new_with_free_func (step_free);

  for (const char *p = text; p < end;)
    {
      const char *nl = memchr (p, '\n', end - p);
      gsize len = (nl ? nl : end) - p;
      ps.line_no++;
      if (memchr (p, '\0', len) != NULL)
        {
          parse_fail (&ps, error, "the line holds a NUL byte");
          return NULL;
        }
      g_autofree char *line = g_strndup (p, len);
      p = nl ? nl + 1 : end;

      if (len > 0 && line[len - 1] == '\r')
        line[len - 1] = '\0';
      const char *s = script_skip_blanks (line);
      if (*s == '\0' || *s == '#')
        continue;

      ScriptStep *step = g_new0 (ScriptStep, 1);
      step->line_no = ps.line_no;
      step->source = g_strdup (s);
      g_ptr_array_add (script->steps, step);
      if (!parse_step (&ps, step, script->steps->len - 1, script->steps, s, error))
        return NULL;
    }

  if (open_repeats->len > 0)
    {
      guint index = g_array_index (open_repeats, guint, open_repeats->len - 1);
      ScriptStep *repeat = g_ptr_array_index (script->steps, index);
      ps.line_no = repeat->line_no;
      parse_fail (&ps, error, "repeat without an end");
      return NULL;
    }
  return g_steal_pointer (&script);
}

Script *
script_load (const char *path, const char *const *names,
             const char *const *vars, GError **error)
{
  g_autofree char *text = NULL;
  gsize length;
  g_autoptr (GError) local = NULL;

  if (!g_file_get_contents (path, &text, &length, &local))
    {
      g_set_error (error, SCRIPT_ERROR, 0, "%s", local->message);
      return NULL;
    }
  return script_parse (path, text, length, names, vars, error);
}
