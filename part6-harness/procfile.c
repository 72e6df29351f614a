/* procfile: reading children from a Procfile; see procfile.h. */
#include "procfile.h"

#include <gio/gio.h>
#include <string.h>

gboolean
procfile_parse (const char *path, const char *text, gsize length,
                GStrv *names, GStrv *commands, GError **error)
{
  g_autoptr (GStrvBuilder) name_list = g_strv_builder_new ();
  g_autoptr (GStrvBuilder) command_list = g_strv_builder_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *end = text + length;
  guint line_no = 0;

  for (const char *p = text; p < end;)
    {
      const char *nl = memchr (p, '\n', end - p);
      g_autofree char *line = g_strndup (p, (nl ? nl : end) - p);
      p = nl ? nl + 1 : end;
      line_no++;

      g_strstrip (line);
      if (*line == '\0' || *line == '#')
        continue;
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
