/* flood: writes FILE to stdout like cat, but only from a given moment on,
 * so that many copies started one after another all flood together, their
 * start-up behind them.  The benchmark's scale figure uses it.
 *
 *   flood START FILE      START: CLOCK_MONOTONIC nanoseconds
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  static char buf[128 * 1024];

  if (argc != 3)
    {
      fprintf (stderr, "usage: flood START FILE\n");
      return 2;
    }
  long long start = atoll (argv[1]);
  int fd = open (argv[2], O_RDONLY);
  if (fd < 0)
    {
      perror (argv[2]);
      return 1;
    }
  struct timespec when = { start / 1000000000, start % 1000000000 };
  while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &when, NULL) == EINTR)
    ;
  ssize_t n;
  while ((n = read (fd, buf, sizeof buf)) > 0)
    for (ssize_t done = 0; done < n;)
      {
        ssize_t w = write (1, buf + done, n - done);
        if (w < 0)
          return 1;
        done += w;
      }
  return n < 0;
}
