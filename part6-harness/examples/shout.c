/* shout: a child for the classic pipe-harness demo.  It prompts, answers
 * each line in capitals, and stops on "exit" or end-of-file.
 *
 *   build/part6-harness/examples/shout
 *   shout> hello
 *   HELLO
 *   shout> exit
 *   bye
 *
 * What to look for: it calls fflush() after the prompt and after each
 * answer.  Without that, when its stdout is a pipe (as under pipe-harness)
 * stdio would keep both in its buffer until it exits (part 4 tells why).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

int
main (void)
{
  char line[4096];

  for (;;)
    {
      fputs ("shout> ", stdout);
      fflush (stdout);
      if (fgets (line, sizeof line, stdin) == NULL)
        break;
      line[strcspn (line, "\n")] = '\0';
      if (strcmp (line, "exit") == 0)
        break;
      for (char *p = line; *p != '\0'; p++)
        *p = (char) toupper ((unsigned char) *p);
      printf ("%s\n", line);
      fflush (stdout);
    }
  printf ("bye\n");
  return 0;
}
