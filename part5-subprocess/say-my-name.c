/* say-my-name: the child of this lesson.  It asks for a name, greets it,
 * and asks again, until it reads "exit" or reaches end-of-file.
 *
 *   say-my-name [--line-buffered]
 *
 * It uses plain C stdio with the default buffering on purpose: on a
 * terminal its output is line-buffered and every answer shows at once,
 * but when its stdout is a pipe, stdio keeps everything in a 4 KiB buffer
 * until the buffer fills or the program exits.  A parent reading that pipe
 * waits for nothing: that is the stall this lesson is about.
 * --line-buffered calls setvbuf() to flush at every newline instead.
 *
 * Exit status: 0; 2 for bad usage.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

int
main (int argc, char **argv)
{
  gboolean line_buffered = FALSE;
  g_autoptr (GError) error = NULL;
  const GOptionEntry entries[] = {
    { "line-buffered", 'l', 0, G_OPTION_ARG_NONE, &line_buffered,
      "Flush stdout at every newline, even on a pipe", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- greet every name read on stdin");

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 1)
    {
      fprintf (stderr, "say-my-name: %s (see --help)\n",
               error ? error->message : "no arguments, only options");
      return 2;
    }
  if (line_buffered)
    setvbuf (stdout, NULL, _IOLBF, 0);

  char name[1024];
  printf ("What is your name?\n");
  while (fgets (name, sizeof name, stdin) != NULL)
    {
      name[strcspn (name, "\r\n")] = '\0';
      if (strcmp (name, "exit") == 0)
        break;
      if (*name != '\0')
        printf ("Hello, %s!\n", name);
      printf ("What is your name?\n");
    }
  printf ("Goodbye!\n");
  return 0;
}
