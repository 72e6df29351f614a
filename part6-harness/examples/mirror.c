/* mirror: the other child of the classic pipe-harness demo.  It prompts,
 * answers each line back to front, and stops on "exit" or end-of-file.
 *
 *   build/part6-harness/examples/mirror
 *   mirror> hello
 *   olleh
 *   mirror> exit
 *   bye
 *
 * Like shout, it flushes stdout after every prompt and answer, so its
 * output reaches a pipe at once rather than at exit.
 */
#include <stdio.h>
#include <string.h>

int
main (void)
{
  char line[4096];

  for (;;)
    {
      fputs ("mirror> ", stdout);
      fflush (stdout);
      if (fgets (line, sizeof line, stdin) == NULL)
        break;
      line[strcspn (line, "\n")] = '\0';
      if (strcmp (line, "exit") == 0)
        break;
      for (size_t i = 0, j = strlen (line); i + 1 < j; i++, j--)
        {
          char c = line[i];
          line[i] = line[j - 1];
          line[j - 1] = c;
        }
      printf ("%s\n", line);
      fflush (stdout);
    }
  printf ("bye\n");
  return 0;
}
