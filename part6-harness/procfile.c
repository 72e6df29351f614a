/* procfile: reading a Procfile and a .env file; see procfile.h. */
#include "procfile.h"

#include <gio/gio.h>
#include <string.h>

/* The next line from *p that is neither blank nor a # comment, stripped of
 * blanks (newly allocated), its number in *line_no; NULL at the end. */
static char *
next_line (const char **p, const char *end, guint *line_no)
{
  while (*p < end)
    {
      const char *nl = memchr (*p, '\n', end - *p);
      char *line = g_strstrip (g_strndup (*p, (nl ? nl : end) - *p));
      *p = nl ? nl + 1 : end;
      ++*line_no;
      if (*line != '\0' && *line != '#')
        return line;
      g_free (line);
    }
  return NULL;
}

gboolean
procfile_parse (const char *path, const char *text, gsize length,
                GStrv *names, GStrv *commands, GError **error)
{
  g_autoptr (GStrvBuilder) name_list = g_strv_builder_new ();
  g_autoptr (GStrvBuilder) command_list = g_strv_builder_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *p = text, *end = text + length;
  guint line_no = 0;
  char *line;

  while ((line = next_line (&p, end, &line_no)) != NULL)
    {
      g_autofree char *owned = line;
      const char *colon = strchr (line, ':');
      g_autofree char *name = colon ? g_strndup (line, colon - line) : NULL;
      gboolean valid = name != NULL && *name != '\0' && strlen (name) <= 64;
      for (const char *c = name; valid && *c; c++)
        valid = g_ascii_isalnum (*c) || *c == '_' || *c == '-';
      if (!valid)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s:%u: expected 'name: command' (a name is at most 64 "
                       "letters, digits, _ and -)", path, line_no);
          return FALSE;
        }
      g_autofree char *command = g_strstrip (g_strdup (colon + 1));
      if (*command == '\0')
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s:%u: '%s' has no command", path, line_no, name);
          return FALSE;
        }
      if (!g_hash_table_add (seen, g_strdup (name)))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s:%u: '%s' is named twice", path, line_no, name);
          return FALSE;
        }
      g_strv_builder_add (name_list, name);
      g_strv_builder_add (command_list, command);
    }
  if (g_hash_table_size (seen) == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: no 'name: command' line in it", path);
      return FALSE;
    }
  *names = g_strv_builder_end (name_list);
  *commands = g_strv_builder_end (command_list);
  return TRUE;
}

gboolean
procfile_load (const char *path, GStrv *names, GStrv *commands, GError **error)
{
  g_autofree char *text = NULL;
  gsize length;
  if (!g_file_get_contents (path, &text, &length, error))
    return FALSE;
  return procfile_parse (path, text, length, names, commands, error);
}

/* A double-quoted value, from just after its opening quote: escapes
 * decoded; NULL if it does not close. */
static char *
double_quoted (const char *p, const char **end)
{
  g_autoptr (GString) value = g_string_new (NULL);
  for (; *p != '\0' && *p != '"'; p++)
    {
      if (*p != '\\' || p[1] == '\0')
        {
          g_string_append_c (value, *p);
          continue;
        }
      p++;
      switch (*p)
        {
        case 'n': g_string_append_c (value, '\n'); break;
        case 't': g_string_append_c (value, '\t'); break;
        case 'r': g_string_append_c (value, '\r'); break;
        default: g_string_append_c (value, *p); break;
        }
    }
  if (*p != '"')
    return NULL;
  *end = p + 1;
  return g_string_free (g_steal_pointer (&value), FALSE);
}

gboolean
dotenv_parse (const char *path, const char *text, gsize length, GStrv *env,
              GError **error)
{
  g_auto (GStrv) entries = g_new0 (char *, 1);
  const char *p = text, *end = text + length;
  guint line_no = 0;
  char *line;

  while ((line = next_line (&p, end, &line_no)) != NULL)
    {
      g_autofree char *owned = line;
      const char *s = line;
      if (g_str_has_prefix (s, "export ") || g_str_has_prefix (s, "export\t"))
        s = g_strchug ((char *) s + 7);
      const char *eq = strchr (s, '=');
      gsize name_len = eq ? (gsize) (eq - s) : 0;
      while (name_len > 0 && g_ascii_isspace (s[name_len - 1]))
        name_len--;
      gboolean valid = name_len > 0 && !g_ascii_isdigit (s[0]);
      for (gsize i = 0; valid && i < name_len; i++)
        valid = g_ascii_isalnum (s[i]) || s[i] == '_';
      if (!valid)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s:%u: expected VAR=VALUE (a name is letters, digits and _)",
                       path, line_no);
          return FALSE;
        }
      g_autofree char *name = g_strndup (s, name_len);
      const char *v = eq + 1;
      while (*v == ' ' || *v == '\t')
        v++;
      g_autofree char *value = NULL;
      const char *after = NULL;
      if (*v == '"')
        value = double_quoted (v + 1, &after);
      else if (*v == '\'')
        {
          const char *close = strchr (v + 1, '\'');
          if (close != NULL)
            {
              value = g_strndup (v + 1, close - v - 1);
              after = close + 1;
            }
        }
      else
        {
          const char *comment = strstr (v, " #");
          value = g_strstrip (g_strndup (v, comment ? (gsize) (comment - v) : strlen (v)));
          after = v + strlen (v);
        }
      while (after != NULL && (*after == ' ' || *after == '\t'))
        after++;
      if (value == NULL || (*after != '\0' && *after != '#'))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s:%u: the value of %s %s", path, line_no, name,
                       value == NULL ? "has no closing quote"
                                     : "goes on after its closing quote");
          return FALSE;
        }
      entries = g_environ_setenv (entries, name, value, TRUE);
    }
  *env = g_steal_pointer (&entries);
  return TRUE;
}

gboolean
dotenv_load (const char *path, GStrv *env, GError **error)
{
  g_autofree char *text = NULL;
  gsize length;
  if (!g_file_get_contents (path, &text, &length, error))
    return FALSE;
  return dotenv_parse (path, text, length, env, error);
}
