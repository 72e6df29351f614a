/* test-file: a .pht test file's header and steps; see test-file.h. */
#include "test-file.h"

#include <string.h>

#include "script.h"
#include "match.h"

static const char *const header_keywords[] = {
  "child", "ready", "hold", "pty", "shell", "timeout", "env", NULL
};

void
test_file_free (TestFile *test)
{
  g_free (test->path);
  g_free (test->dir);
  g_strfreev (test->names);
  g_strfreev (test->commands);
  g_strfreev (test->ready);
  g_strfreev (test->hold);
  g_strfreev (test->pty);
  g_strfreev (test->env);
  g_strfreev (test->vars);
  g_free (test);
}

/* ------------------------------------------------------------------ */
/* Lines */

typedef struct {
  const char *p;
  const char *end;
  guint line_no;
} LineReader;

/* The next line, without its newline or a carriage return before it;
 * FALSE at the end.  *has_nul: the line holds a NUL byte. */
static gboolean
next_line (LineReader *lines, char **line, const char **start, gboolean *has_nul)
{
  if (lines->p >= lines->end)
    return FALSE;
  const char *nl = memchr (lines->p, '\n', lines->end - lines->p);
  gsize len = (nl ? nl : lines->end) - lines->p;
  *start = lines->p;
  *has_nul = memchr (lines->p, '\0', len) != NULL;
  *line = g_strndup (lines->p, len);
  if (len > 0 && (*line)[len - 1] == '\r')
    (*line)[len - 1] = '\0';
  lines->p = nl ? nl + 1 : lines->end;
  lines->line_no++;
  return TRUE;
}

/* Whether line (blanks skipped) starts with a header keyword. */
static gboolean
is_header_line (const char *line)
{
  const char *rest = line;
  g_autofree char *keyword = script_next_word (&rest);
  return g_strv_contains (header_keywords, keyword);
}

static gboolean
is_step_line (const char *line)
{
  const char *s = script_skip_blanks (line);
  return *s != '\0' && *s != '#' && !is_header_line (s);
}

/* Cuts a comment (a '#' at the start or after a blank) and the blanks
 * before it or before the end. */
static void
cut_comment (char *text)
{
  for (char *p = text; *p != '\0'; p++)
    if (*p == '#' && (p == text || script_is_blank (p[-1])))
      {
        *p = '\0';
        break;
      }
  g_strchomp (text);
}

/* ------------------------------------------------------------------ */
/* The header */

typedef struct {
  const char *path;
  guint line_no;
  TestFile *test;
  GPtrArray *names;
  GPtrArray *commands;
  GPtrArray *ready;
  GPtrArray *hold;
  GPtrArray *pty;
  GPtrArray *env;
  GPtrArray *vars;
  GHashTable *env_values; /* VAR → VALUE of the env lines so far */
  GHashTable *known;      /* variables a command may use besides ours */
  GPtrArray *references;  /* "LINE KEYWORD NAME": children named */
  GArray *child_lines;    /* guint: the line of each child */
  GPtrArray *ready_patterns; /* Pattern, as hp->ready */
} HeaderParser;

static gboolean G_GNUC_PRINTF (3, 4)
header_fail (HeaderParser *hp, GError **error, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *what = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, SCRIPT_ERROR, 0, "%s:%u: %s", hp->path, hp->line_no, what);
  return FALSE;
}

static gboolean
has_string (GPtrArray *array, const char *text)
{
  for (guint i = 0; i < array->len; i++)
    if (strcmp (g_ptr_array_index (array, i), text) == 0)
      return TRUE;
  return FALSE;
}

/* A child named by a ready, hold or pty line: checked once the whole
 * header is read (the child line may come after it). */
static void
refer_to (HeaderParser *hp, const char *keyword, const char *name)
{
  g_ptr_array_add (hp->references, g_strdup_printf ("%u %s %s", hp->line_no, keyword, name));
}

static gboolean
check_references (HeaderParser *hp, GError **error)
{
  for (guint i = 0; i < hp->references->len; i++)
    {
      g_auto (GStrv) ref = g_strsplit (g_ptr_array_index (hp->references, i), " ", 3);
      if (has_string (hp->names, ref[2]))
        continue;
      hp->line_no = (guint) g_ascii_strtoull (ref[0], NULL, 10);
      g_ptr_array_add (hp->names, NULL);
      g_autofree char *known = g_strjoinv (", ", (char **) hp->names->pdata);
      g_ptr_array_remove_index (hp->names, hp->names->len - 1);
      return header_fail (hp, error, "%s: there is no child named '%s' (the "
                          "children are %s)", ref[1], ref[2], known);
    }
  return TRUE;
}

static const char *
lookup_env_line (const char *name, gpointer data)
{
  HeaderParser *hp = data;
  const char *value = g_hash_table_lookup (hp->env_values, name);
  if (value != NULL)
    return value;
  if (strcmp (name, "TEST_DIR") == 0)
    return hp->test->dir;
  return g_getenv (name);
}

static const char *
lookup_command_var (const char *name, gpointer data)
{
  HeaderParser *hp = data;
  if (g_hash_table_contains (hp->known, name))
    return "";
  return lookup_env_line (name, data);
}

static gboolean
parse_child_line (HeaderParser *hp, const char *rest, GError **error)
{
  g_autofree char *name = script_next_word (&rest);
  const char *command = script_skip_blanks (rest);

  if (*name == '\0' || *command == '\0')
    return header_fail (hp, error, "child needs a name and a command "
                        "(child NAME COMMAND)");
  if (!script_valid_child_name (name))
    return header_fail (hp, error, "'%s' is not a child name (at most "
                        G_STRINGIFY (SCRIPT_CHILD_NAME_MAX) " letters, digits, _ "
                        "and -)", name);
  if (has_string (hp->names, name))
    return header_fail (hp, error, "there is already a child named '%s'", name);
  g_array_append_val (hp->child_lines, hp->line_no);
  g_ptr_array_add (hp->names, g_steal_pointer (&name));
  g_ptr_array_add (hp->commands, g_strdup (command));
  return TRUE;
}

static gboolean
parse_ready_line (HeaderParser *hp, const char *rest, GError **error)
{
  g_autofree char *name = script_next_word (&rest);
  const char *start = script_skip_blanks (rest);

  if (*name == '\0')
    return header_fail (hp, error, "ready needs a child name and a /REGEX/");
  refer_to (hp, "ready", name);
  for (guint i = 0; i < hp->ready->len; i++)
    {
      const char *entry = g_ptr_array_index (hp->ready, i);
      if (g_str_has_prefix (entry, name) && entry[strlen (name)] == '=')
        return header_fail (hp, error, "%s has a ready line already", name);
    }
  if (*start != '/')
    return header_fail (hp, error, "ready needs a /REGEX/ after the child name");
  const char *end = start + 1;
  while (*end != '\0' && *end != '/')
    end += (*end == '\\' && end[1] != '\0') ? 2 : 1;
  if (*end != '/')
    return header_fail (hp, error, "the regex has no closing '/' (write \\/ "
                        "for a slash inside it)");
  g_autofree char *after = g_strdup (end + 1);
  cut_comment (after);
  if (*after != '\0')
    return header_fail (hp, error, "unexpected '%s' after the regex", after);

  g_autofree char *source = g_strndup (start + 1, end - start - 1);
  g_autoptr (GError) local = NULL;
  g_autoptr (Pattern) pattern = pattern_new (source, &local);
  if (pattern == NULL)
    return header_fail (hp, error, "bad regex /%s/: %s", source, local->message);
  const char *const *groups = pattern_group_names (pattern);
  for (guint g = 0; groups[g] != NULL; g++)
    g_ptr_array_add (hp->vars, g_strdup (groups[g]));
  g_ptr_array_add (hp->ready, g_strdup_printf ("%s=/%s/", name, source));
  g_ptr_array_add (hp->ready_patterns, g_steal_pointer (&pattern));
  return TRUE;
}

/* hold and pty: names separated by blanks or commas. */
static gboolean
parse_names_line (HeaderParser *hp, const char *keyword, const char *rest,
                  GPtrArray *into, GError **error)
{
  g_autofree char *text = g_strdup (rest);
  cut_comment (text);
  g_auto (GStrv) words = g_regex_split_simple ("[\\s,]+", g_strstrip (text), 0, 0);
  guint count = 0;

  for (guint i = 0; words[i] != NULL; i++)
    {
      if (*words[i] == '\0')
        continue;
      refer_to (hp, keyword, words[i]);
      if (!has_string (into, words[i]))
        g_ptr_array_add (into, g_strdup (words[i]));
      count++;
    }
  if (count == 0 && strcmp (keyword, "pty") == 0)
    hp->test->pty_all = TRUE;
  else if (count == 0)
    return header_fail (hp, error, "hold needs the names of the children it "
                        "holds back");
  return TRUE;
}

static gboolean
parse_timeout_line (HeaderParser *hp, const char *rest, GError **error)
{
  g_autofree char *text = g_strdup (rest);
  g_autoptr (GError) local = NULL;

  cut_comment (text);
  g_strstrip (text);
  if (*text == '\0')
    return header_fail (hp, error, "timeout needs a duration, like 30s");
  if (!script_parse_duration (text, &hp->test->timeout_us, &local))
    return header_fail (hp, error, "%s", local->message);
  if (hp->test->timeout_us == 0)
    return header_fail (hp, error, "the timeout must be longer than 0");
  return TRUE;
}

static gboolean
parse_env_line (HeaderParser *hp, const char *rest, GError **error)
{
  g_autofree char *var = script_next_word (&rest);
  g_autoptr (GString) value = g_string_new (NULL);
  g_autoptr (GError) local = NULL;

  if (*var == '\0')
    return header_fail (hp, error, "env needs a variable and a value (env VAR VALUE)");
  if (!script_is_variable_name (var, strlen (var)))
    return header_fail (hp, error, "'%s' is not a variable name (a letter or _, "
                        "then letters, digits, _)", var);
  if (!script_expand (script_is_blank (*rest) ? rest + 1 : rest, EXPAND_PLAIN,
                      lookup_env_line, hp, value, &local))
    return header_fail (hp, error, "%s", local->message);
  g_ptr_array_add (hp->env, g_strdup_printf ("%s=%s", var, value->str));
  g_hash_table_insert (hp->env_values, g_steal_pointer (&var),
                       g_string_free (g_steal_pointer (&value), FALSE));
  return TRUE;
}

/* Every ${var} of a command is captured by the ready pattern of a child
 * started before it, or set by an env line or the environment. */
static gboolean
check_commands (HeaderParser *hp, GError **error)
{
  for (guint i = 0; i < hp->names->len; i++)
    {
      const char *command = g_ptr_array_index (hp->commands, i);
      g_autoptr (GString) ignored = g_string_new (NULL);
      g_autoptr (GError) local = NULL;
      if (!script_expand (command, EXPAND_PLAIN, lookup_command_var, hp, ignored, &local))
        {
          hp->line_no = g_array_index (hp->child_lines, guint, i);
          return header_fail (hp, error, "%s (a variable of a command comes from "
                              "the ready pattern of a child before it, an env "
                              "line, ${TEST_DIR} or the environment)", local->message);
        }
      for (guint r = 0; r < hp->ready->len; r++)
        {
          const char *entry = g_ptr_array_index (hp->ready, r);
          const char *name = g_ptr_array_index (hp->names, i);
          if (!g_str_has_prefix (entry, name) || entry[strlen (name)] != '=')
            continue;
          const char *const *groups = pattern_group_names (g_ptr_array_index (hp->ready_patterns, r));
          for (guint g = 0; groups[g] != NULL; g++)
            g_hash_table_add (hp->known, g_strdup (groups[g]));
        }
    }
  return TRUE;
}

static gboolean
parse_header_line (HeaderParser *hp, const char *line, GError **error)
{
  const char *rest = line;
  g_autofree char *keyword = script_next_word (&rest);

  if (strcmp (keyword, "child") == 0)
    return parse_child_line (hp, rest, error);
  if (strcmp (keyword, "ready") == 0)
    return parse_ready_line (hp, rest, error);
  if (strcmp (keyword, "hold") == 0)
    return parse_names_line (hp, "hold", rest, hp->hold, error);
  if (strcmp (keyword, "pty") == 0)
    return parse_names_line (hp, "pty", rest, hp->pty, error);
  if (strcmp (keyword, "timeout") == 0)
    return parse_timeout_line (hp, rest, error);
  if (strcmp (keyword, "env") == 0)
    return parse_env_line (hp, rest, error);
  /* shell */
  g_autofree char *after = g_strdup (rest);
  cut_comment (after);
  if (*g_strstrip (after) != '\0')
    return header_fail (hp, error, "unexpected '%s' after shell", after);
  hp->test->shell = TRUE;
  return TRUE;
}

static char **
steal_strv (GPtrArray *array)
{
  g_ptr_array_add (array, NULL);
  return (char **) g_ptr_array_free (array, FALSE);
}

TestFile *
test_file_parse (const char *path, const char *text, gsize length, GError **error)
{
  g_autoptr (TestFile) test = g_new0 (TestFile, 1);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr (GHashTable) env_values = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                             g_free, g_free);
  g_autoptr (GHashTable) known = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                        g_free, NULL);
  HeaderParser hp = {
    .path = path,
    .test = test,
    .names = g_ptr_array_new_with_free_func (g_free),
    .commands = g_ptr_array_new_with_free_func (g_free),
    .ready = g_ptr_array_new_with_free_func (g_free),
    .hold = g_ptr_array_new_with_free_func (g_free),
    .pty = g_ptr_array_new_with_free_func (g_free),
    .env = g_ptr_array_new_with_free_func (g_free),
    .vars = g_ptr_array_new_with_free_func (g_free),
    .env_values = env_values,
    .known = known,
    .references = g_ptr_array_new_with_free_func (g_free),
    .child_lines = g_array_new (FALSE, FALSE, sizeof (guint)),
    .ready_patterns = g_ptr_array_new_with_free_func ((GDestroyNotify) pattern_free),
  };
  LineReader lines = { text, text + length, 0 };
  char *line;
  const char *start;
  gboolean has_nul, ok = TRUE;

  test->path = g_strdup (path);
  test->dir = g_canonicalize_filename (dir, NULL);
  test->timeout_us = TEST_FILE_DEFAULT_TIMEOUT_US;
  while (ok && next_line (&lines, &line, &start, &has_nul))
    {
      g_autofree char *owned = line;
      hp.line_no = lines.line_no;
      if (has_nul)
        ok = header_fail (&hp, error, "the line holds a NUL byte");
      else if (is_step_line (owned))
        break;
      else if (is_header_line (script_skip_blanks (owned)))
        ok = parse_header_line (&hp, script_skip_blanks (owned), error);
    }
  if (ok && hp.names->len == 0)
    ok = header_fail (&hp, error, "the test runs no child: its header needs a "
                      "'child NAME COMMAND' line before the first step");
  ok = ok && check_references (&hp, error) && check_commands (&hp, error);
  g_ptr_array_unref (hp.references);
  g_array_unref (hp.child_lines);
  g_ptr_array_unref (hp.ready_patterns);

  test->names = steal_strv (hp.names);
  test->commands = steal_strv (hp.commands);
  test->ready = steal_strv (hp.ready);
  test->hold = steal_strv (hp.hold);
  test->pty = steal_strv (hp.pty);
  test->env = steal_strv (hp.env);
  test->vars = steal_strv (hp.vars);
  if (test->pty_all)
    g_clear_pointer (&test->pty, g_strfreev);
  return ok ? g_steal_pointer (&test) : NULL;
}

TestFile *
test_file_load (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize length;
  g_autoptr (GError) local = NULL;

  if (!g_file_get_contents (path, &text, &length, &local))
    {
      g_set_error (error, SCRIPT_ERROR, 0, "%s", local->message);
      return NULL;
    }
  return test_file_parse (path, text, length, error);
}

/* ------------------------------------------------------------------ */
/* The steps */

Script *
test_file_parse_steps (const char *path, const char *text, gsize length,
                       const char *const *names, const char *const *vars,
                       GError **error)
{
  LineReader lines = { text, text + length, 0 };
  const char *steps = text + length;
  guint header_lines = 0;
  char *line;
  const char *start;
  gboolean has_nul;

  /* The header's lines become blank lines, so the steps keep their
   * numbers; a header line after the first step is refused. */
  while (next_line (&lines, &line, &start, &has_nul))
    {
      g_autofree char *owned = line;
      if (steps == text + length && !has_nul && is_step_line (owned))
        steps = start;
      else if (steps == text + length)
        header_lines++;
      else if (!has_nul && is_header_line (script_skip_blanks (owned)))
        {
          g_set_error (error, SCRIPT_ERROR, 0, "%s:%u: '%s' is a header line: "
                       "header lines (child, ready, hold, pty, shell, timeout, "
                       "env) come before the first step", path, lines.line_no,
                       script_skip_blanks (owned));
          return NULL;
        }
    }
  g_autoptr (GString) padded = g_string_new (NULL);
  for (guint i = 0; i < header_lines; i++)
    g_string_append_c (padded, '\n');
  g_string_append_len (padded, steps, text + length - steps);
  return script_parse (path, padded->str, padded->len, names, vars, error);
}

Script *
test_file_load_steps (const char *path, const char *const *names,
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
  return test_file_parse_steps (path, text, length, names, vars, error);
}
