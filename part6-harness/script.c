/* script: parsing and running --script files; see script.h. */
#include "script.h"

#include <string.h>

G_DEFINE_QUARK (script-error-quark, script_error)

#define STEP_NAMES "send, expect, sleep, close, wait"
/* Lines kept per child for expect (since its last match) and for failure
 * reports (the last few, whatever matched). */
#define MAX_UNMATCHED_LINES 10000
#define LAST_LINES_SHOWN 5

static void
step_free (gpointer data)
{
  ScriptStep *step = data;
  g_free (step->source);
  g_free (step->text);
  g_clear_pointer (&step->regex, g_regex_unref);
  g_clear_pointer (&step->regex_raw, g_regex_unref);
  g_strfreev (step->groups);
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
script_parse_duration (const char *text, gint64 *us, GError **error)
{
  const char *p = text;
  double value = 0, scale = 1;

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
  else if (strcmp (p, "s") == 0)
    scale = G_USEC_PER_SEC;
  else
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
               "'%s' is not a duration (write it like 250ms, 2s or 1.5s)", text);
  return FALSE;
}

/* ${name} expansion.  "$${" stands for a literal "${".  lookup returns the
 * value of a name, or NULL if it has none. */
typedef const char *(*LookupFunc) (const char *name, gpointer data);

static gboolean
expand_variables (const char *text, LookupFunc lookup, gpointer data,
                  GString *out, GError **error)
{
  for (const char *p = text; *p != '\0';)
    {
      if (g_str_has_prefix (p, "$${"))
        {
          g_string_append (out, "${");
          p += 3;
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
          g_set_error (error, SCRIPT_ERROR, 0, "'${' without a closing '}'");
          return FALSE;
        }
      g_autofree char *var = g_strndup (name, close - name);
      gboolean valid = var[0] != '\0' && !g_ascii_isdigit (var[0]);
      for (const char *c = var; valid && *c; c++)
        valid = g_ascii_isalnum (*c) || *c == '_';
      if (!valid)
        {
          g_set_error (error, SCRIPT_ERROR, 0,
                       "'${%s}' is not a variable name (letters, digits, _)",
                       var);
          return FALSE;
        }
      const char *value = lookup (var, data);
      if (value == NULL)
        {
          g_set_error (error, SCRIPT_ERROR, 0,
                       "variable '%s' is set neither by a named group of an "
                       "earlier expect nor in the environment", var);
          return FALSE;
        }
      g_string_append (out, value);
      p = close + 1;
    }
  return TRUE;
}

/* The names of a pattern's named groups: (?<name>…), (?P<name>…), (?'name'…)
 * that the compiled regex confirms. */
static GStrv
named_groups (const char *pattern, GRegex *regex)
{
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  for (const char *p = pattern; *p != '\0'; p++)
    {
      if (*p == '\\' && p[1] != '\0')
        {
          p++;
          continue;
        }
      const char *start = NULL;
      if (g_str_has_prefix (p, "(?<") && p[3] != '=' && p[3] != '!')
        start = p + 3;
      else if (g_str_has_prefix (p, "(?P<"))
        start = p + 4;
      else if (g_str_has_prefix (p, "(?'"))
        start = p + 3;
      if (start == NULL)
        continue;
      const char *end = start;
      while (g_ascii_isalnum (*end) || *end == '_')
        end++;
      g_autofree char *name = g_strndup (start, end - start);
      if (*name != '\0' && g_regex_get_string_number (regex, name) >= 0)
        g_strv_builder_add (names, name);
    }
  return g_strv_builder_end (names);
}

typedef struct {
  const char *path;
  const char *const *names;
  GHashTable *defined; /* variables set by named groups so far */
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

/* Splits off the next whitespace-separated word of *rest. */
static char *
next_word (const char **rest)
{
  const char *p = *rest;
  while (*p == ' ' || *p == '\t')
    p++;
  const char *start = p;
  while (*p != '\0' && *p != ' ' && *p != '\t')
    p++;
  char *word = g_strndup (start, p - start);
  while (*p == ' ' || *p == '\t')
    p++;
  *rest = p;
  return word;
}

static gboolean
parse_child (Parser *ps, const char *keyword, const char **rest, guint *child,
             GError **error)
{
  g_autofree char *name = next_word (rest);
  if (*name == '\0')
    return parse_fail (ps, error, "%s needs a child name", keyword);
  for (guint i = 0; ps->names[i] != NULL; i++)
    if (strcmp (ps->names[i], name) == 0)
      {
        *child = i;
        return TRUE;
      }
  g_autofree char *known = g_strjoinv (", ", (char **) ps->names);
  return parse_fail (ps, error, "unknown child '%s' (the children are %s)",
                     name, known);
}

static gboolean
parse_timeout (Parser *ps, const char *rest, gint64 *us, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *word = next_word (&rest);

  *us = SCRIPT_DEFAULT_TIMEOUT_US;
  if (*word == '\0')
    return TRUE;
  if (*rest != '\0')
    return parse_fail (ps, error, "unexpected '%s' after the timeout", rest);
  if (!script_parse_duration (word, us, &local))
    return parse_fail (ps, error, "%s", local->message);
  return TRUE;
}

static const char *
lookup_defined (const char *name, gpointer data)
{
  Parser *ps = data;
  if (g_hash_table_contains (ps->defined, name))
    return "";
  return g_getenv (name);
}

static gboolean
parse_expect (Parser *ps, ScriptStep *step, const char *rest, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (*rest != '/')
    return parse_fail (ps, error, "expect needs a /REGEX/ after the child name");
  const char *end = rest + 1;
  while (*end != '\0' && *end != '/')
    end += (*end == '\\' && end[1] != '\0') ? 2 : 1;
  if (*end != '/')
    return parse_fail (ps, error, "the regex has no closing '/'");

  g_autofree char *pattern = g_strndup (rest + 1, end - rest - 1);
  /* GRegex hands its pattern to PCRE2 as UTF-8 unchecked: bytes that are
   * not UTF-8 would crash it. */
  if (!g_utf8_validate (pattern, -1, NULL))
    return parse_fail (ps, error, "the regex is not UTF-8 text (write such a byte as \\xNN)");
  step->regex = g_regex_new (pattern, 0, 0, &local);
  if (step->regex == NULL)
    return parse_fail (ps, error, "bad regex /%s/: %s", pattern, local->message);
  step->regex_raw = g_regex_new (pattern, G_REGEX_RAW, 0, NULL);
  step->groups = named_groups (pattern, step->regex);
  for (guint i = 0; step->groups[i] != NULL; i++)
    g_hash_table_add (ps->defined, g_strdup (step->groups[i]));
  return parse_timeout (ps, end + 1, &step->timeout_us, error);
}

static gboolean
parse_step (Parser *ps, ScriptStep *step, const char *line, GError **error)
{
  const char *rest = line;
  g_autofree char *keyword = next_word (&rest);

  if (strcmp (keyword, "send") == 0)
    {
      step->kind = STEP_SEND;
      if (!parse_child (ps, keyword, &rest, &step->child, error))
        return FALSE;
      g_autoptr (GString) ignored = g_string_new (NULL);
      g_autoptr (GError) local = NULL;
      if (!expand_variables (rest, lookup_defined, ps, ignored, &local))
        return parse_fail (ps, error, "%s", local->message);
      step->text = g_strdup (rest);
      return TRUE;
    }
  if (strcmp (keyword, "expect") == 0)
    {
      step->kind = STEP_EXPECT;
      return parse_child (ps, keyword, &rest, &step->child, error) &&
             parse_expect (ps, step, rest, error);
    }
  if (strcmp (keyword, "sleep") == 0)
    {
      g_autoptr (GError) local = NULL;
      g_autofree char *word = next_word (&rest);
      step->kind = STEP_SLEEP;
      if (*word == '\0')
        return parse_fail (ps, error, "sleep needs a duration, like 500ms or 2s");
      if (*rest != '\0')
        return parse_fail (ps, error, "unexpected '%s' after the duration", rest);
      if (!script_parse_duration (word, &step->timeout_us, &local))
        return parse_fail (ps, error, "%s", local->message);
      return TRUE;
    }
  if (strcmp (keyword, "close") == 0)
    {
      step->kind = STEP_CLOSE;
      if (!parse_child (ps, keyword, &rest, &step->child, error))
        return FALSE;
      if (*rest != '\0')
        return parse_fail (ps, error, "unexpected '%s' after the child name", rest);
      return TRUE;
    }
  if (strcmp (keyword, "wait") == 0)
    {
      step->kind = STEP_WAIT;
      return parse_child (ps, keyword, &rest, &step->child, error) &&
             parse_timeout (ps, rest, &step->timeout_us, error);
    }
  return parse_fail (ps, error, "unknown step '%s' (steps are " STEP_NAMES ")",
                     keyword);
}

Script *
script_parse (const char *path, const char *text, gsize length,
              const char *const *names, GError **error)
{
  g_autoptr (Script) script = g_new0 (Script, 1);
  g_autoptr (GHashTable) defined = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                          g_free, NULL);
  Parser ps = { .path = path, .names = names, .defined = defined };
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
      const char *s = line;
      while (*s == ' ' || *s == '\t')
        s++;
      if (*s == '\0' || *s == '#')
        continue;

      ScriptStep *step = g_new0 (ScriptStep, 1);
      step->line_no = ps.line_no;
      step->source = g_strdup (s);
      g_ptr_array_add (script->steps, step);
      if (!parse_step (&ps, step, s, error))
        return NULL;
    }
  return g_steal_pointer (&script);
}

Script *
script_load (const char *path, const char *const *names, GError **error)
{
  g_autofree char *text = NULL;
  gsize length;
  g_autoptr (GError) local = NULL;

  if (!g_file_get_contents (path, &text, &length, &local))
    {
      g_set_error (error, SCRIPT_ERROR, 0, "%s", local->message);
      return NULL;
    }
  return script_parse (path, text, length, names, error);
}

/* ------------------------------------------------------------------ */
/* The runner */

typedef struct {
  GQueue unmatched; /* GBytes: lines since the last match, oldest first */
  GQueue last;      /* GBytes: the last LAST_LINES_SHOWN lines */
  char *gone;       /* how it ended, once it is gone */
} ChildLines;

struct ScriptRunner {
  const Script *script;
  const char *const *names;
  ScriptHooks hooks;
  gpointer data;
  ChildLines *children;
  guint n_children;
  GHashTable *vars; /* captured by named groups */
  guint pos;        /* the current step */
  guint timer;      /* the current step's deadline, while it waits */
  gboolean running;
  gboolean finished;
};

ScriptRunner *
script_runner_new (const Script *script, const char *const *names,
                   const ScriptHooks *hooks, gpointer data)
{
  ScriptRunner *r = g_new0 (ScriptRunner, 1);
  r->script = script;
  r->names = names;
  r->hooks = *hooks;
  r->data = data;
  r->n_children = g_strv_length ((char **) names);
  r->children = g_new0 (ChildLines, r->n_children);
  r->vars = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return r;
}

void
script_runner_free (ScriptRunner *r)
{
  g_clear_handle_id (&r->timer, g_source_remove);
  for (guint i = 0; i < r->n_children; i++)
    {
      g_queue_clear_full (&r->children[i].unmatched, (GDestroyNotify) g_bytes_unref);
      g_queue_clear_full (&r->children[i].last, (GDestroyNotify) g_bytes_unref);
      g_free (r->children[i].gone);
    }
  g_free (r->children);
  g_hash_table_unref (r->vars);
  g_free (r);
}

gboolean
script_runner_running (ScriptRunner *r)
{
  return r->running;
}

void
script_runner_stop (ScriptRunner *r)
{
  g_clear_handle_id (&r->timer, g_source_remove);
  r->running = FALSE;
  r->finished = TRUE;
}

static char *
format_duration (gint64 us)
{
  if (us % G_USEC_PER_SEC == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "s", us / G_USEC_PER_SEC);
  if (us < G_USEC_PER_SEC)
    return g_strdup_printf ("%" G_GINT64_FORMAT "ms", us / 1000);
  return g_strdup_printf ("%.3gs", (double) us / G_USEC_PER_SEC);
}

/* A child's line made fit for a one-line report: control bytes and bytes
 * that are not UTF-8 shown as \xNN. */
static void
append_printable (GString *out, GBytes *line)
{
  gsize len;
  const char *p = g_bytes_get_data (line, &len);
  const char *end = p + len;

  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);
      if (c == (gunichar) -1 || c == (gunichar) -2 || (c < 0x20 && c != '\t') ||
          c == 0x7f)
        {
          g_string_append_printf (out, "\\x%02x", (guchar) *p++);
          continue;
        }
      const char *next = g_utf8_next_char (p);
      g_string_append_len (out, p, next - p);
      p = next;
    }
}

static void G_GNUC_PRINTF (3, 4)
fail (ScriptRunner *r, const ScriptStep *step, const char *format, ...)
{
  g_autoptr (GString) report = g_string_new (NULL);
  va_list ap;

  g_string_append_printf (report, "%s:%u: %s: ", r->script->path,
                          step->line_no, step->source);
  va_start (ap, format);
  g_string_append_vprintf (report, format, ap);
  va_end (ap);

  if (step->kind != STEP_SLEEP)
    {
      ChildLines *c = &r->children[step->child];
      const char *name = r->names[step->child];
      if (c->last.length == 0)
        g_string_append_printf (report, "\n%s printed nothing", name);
      else
        g_string_append_printf (report, "\n%s printed last:", name);
      for (GList *l = c->last.head; l != NULL; l = l->next)
        {
          g_string_append (report, "\n  | ");
          append_printable (report, l->data);
        }
    }

  g_clear_handle_id (&r->timer, g_source_remove);
  r->running = FALSE;
  r->finished = TRUE;
  r->hooks.finished (r->data, report->str);
}

static void
capture_groups (ScriptRunner *r, const ScriptStep *step, GMatchInfo *info)
{
  for (guint i = 0; step->groups[i] != NULL; i++)
    {
      char *value = g_match_info_fetch_named (info, step->groups[i]);
      if (value != NULL)
        g_hash_table_insert (r->vars, g_strdup (step->groups[i]), value);
    }
}

static gboolean
line_matches (ScriptRunner *r, const ScriptStep *step, GBytes *line)
{
  gsize len;
  const char *data = g_bytes_get_data (line, &len);
  GRegex *regex = g_utf8_validate (data, len, NULL) ? step->regex : step->regex_raw;
  g_autoptr (GMatchInfo) info = NULL;

  if (regex == NULL || !g_regex_match_full (regex, data, len, 0, 0, &info, NULL))
    return FALSE;
  capture_groups (r, step, info);
  return TRUE;
}

/* Looks for a match among the lines since the last one; a match consumes
 * every line up to and including it. */
static gboolean
expect_from_unmatched (ScriptRunner *r, const ScriptStep *step)
{
  GQueue *unmatched = &r->children[step->child].unmatched;
  guint i = 0;

  for (GList *l = unmatched->head; l != NULL; l = l->next, i++)
    if (line_matches (r, step, l->data))
      {
        for (guint n = 0; n <= i; n++)
          g_bytes_unref (g_queue_pop_head (unmatched));
        return TRUE;
      }
  return FALSE;
}

static const char *
lookup_runtime (const char *name, gpointer data)
{
  ScriptRunner *r = data;
  const char *value = g_hash_table_lookup (r->vars, name);
  return value != NULL ? value : g_getenv (name);
}

static gboolean
run_send (ScriptRunner *r, const ScriptStep *step)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  if (!expand_variables (step->text, lookup_runtime, r, text, &error))
    {
      fail (r, step, "%s", error->message);
      return FALSE;
    }
  g_string_append_c (text, '\n');
  if (!r->hooks.send (r->data, step->child, text->str, text->len, &error))
    {
      fail (r, step, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}

static void advance (ScriptRunner *r);

static gboolean
on_step_deadline (gpointer data)
{
  ScriptRunner *r = data;
  const ScriptStep *step = g_ptr_array_index (r->script->steps, r->pos);
  g_autofree char *after = format_duration (step->timeout_us);

  r->timer = 0;
  switch (step->kind)
    {
    case STEP_SLEEP:
      r->pos++;
      advance (r);
      break;
    case STEP_EXPECT:
      fail (r, step, "no matching line within %s", after);
      break;
    default:
      fail (r, step, "%s still running after %s", r->names[step->child], after);
      break;
    }
  return G_SOURCE_REMOVE;
}

static void
wait_for (ScriptRunner *r, const ScriptStep *step)
{
  r->timer = g_timeout_add ((guint) (step->timeout_us / 1000), on_step_deadline, r);
}

/* Runs steps until one has to wait, the script fails, or it ends. */
static void
advance (ScriptRunner *r)
{
  while (r->running && r->pos < r->script->steps->len)
    {
      const ScriptStep *step = g_ptr_array_index (r->script->steps, r->pos);
      ChildLines *c = step->kind == STEP_SLEEP ? NULL : &r->children[step->child];

      switch (step->kind)
        {
        case STEP_SEND:
          if (!run_send (r, step))
            return;
          break;
        case STEP_CLOSE:
          r->hooks.close_input (r->data, step->child);
          break;
        case STEP_EXPECT:
          if (expect_from_unmatched (r, step))
            break;
          if (c->gone != NULL)
            {
              fail (r, step, "%s %s without printing a matching line",
                    r->names[step->child], c->gone);
              return;
            }
          wait_for (r, step);
          return;
        case STEP_SLEEP:
          wait_for (r, step);
          return;
        case STEP_WAIT:
          if (c->gone != NULL)
            break;
          wait_for (r, step);
          return;
        }
      r->pos++;
    }
  if (r->running)
    {
      r->running = FALSE;
      r->finished = TRUE;
      r->hooks.finished (r->data, NULL);
    }
}

void
script_runner_start (ScriptRunner *r)
{
  r->running = TRUE;
  advance (r);
}

static const ScriptStep *
waiting_step (ScriptRunner *r, guint child, StepKind kind)
{
  if (!r->running || r->timer == 0)
    return NULL;
  const ScriptStep *step = g_ptr_array_index (r->script->steps, r->pos);
  return step->kind == kind && step->child == child ? step : NULL;
}

void
script_runner_line (ScriptRunner *r, guint child, const char *line, gsize len)
{
  ChildLines *c = &r->children[child];

  if (r->finished)
    return;
  GBytes *bytes = g_bytes_new (line, len);
  g_queue_push_tail (&c->last, g_bytes_ref (bytes));
  if (c->last.length > LAST_LINES_SHOWN)
    g_bytes_unref (g_queue_pop_head (&c->last));

  const ScriptStep *step = waiting_step (r, child, STEP_EXPECT);
  if (step != NULL && line_matches (r, step, bytes))
    {
      g_bytes_unref (bytes);
      g_clear_handle_id (&r->timer, g_source_remove);
      r->pos++;
      advance (r);
      return;
    }
  g_queue_push_tail (&c->unmatched, bytes);
  if (c->unmatched.length > MAX_UNMATCHED_LINES)
    g_bytes_unref (g_queue_pop_head (&c->unmatched));
}

void
script_runner_child_gone (ScriptRunner *r, guint child, const char *how)
{
  ChildLines *c = &r->children[child];
  const ScriptStep *step;

  if (r->finished || c->gone != NULL)
    return;
  c->gone = g_strdup (how);
  if ((step = waiting_step (r, child, STEP_EXPECT)) != NULL)
    fail (r, step, "%s %s without printing a matching line", r->names[child], how);
  else if ((step = waiting_step (r, child, STEP_WAIT)) != NULL)
    {
      g_clear_handle_id (&r->timer, g_source_remove);
      r->pos++;
      advance (r);
    }
}
