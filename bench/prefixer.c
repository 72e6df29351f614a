/* prefixer: the least a line prefixer can do, as the benchmark's practical
 * limit for pipe-harness with one flooding child.  It reads its stdin (a
 * pipe) and writes each line to stdout as "A: line", with the pipes enlarged
 * to 1 MiB and the output gathered into large writes; one process, no GLib,
 * no event loop.
 *
 *   cat FILE | prefixer > OUT
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "write-all.h"

#define PIPE_SIZE (1024 * 1024)
#define IN_SIZE (256 * 1024)
#define OUT_SIZE (512 * 1024)
#define MARK "A: "
#define MARK_LEN 3

static char in[IN_SIZE];
static char out[OUT_SIZE + IN_SIZE + MARK_LEN];

int
main (void)
{
  size_t kept = 0, out_len = 0; /* kept: an unfinished line at in's start */
  int line_start = 1;

  fcntl (0, F_SETPIPE_SZ, PIPE_SIZE); /* hints: fine if refused */
  fcntl (1, F_SETPIPE_SZ, PIPE_SIZE);
  for (;;)
    {
      ssize_t n = read (0, in + kept, IN_SIZE - kept);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          perror ("prefixer: read");
          return 1;
        }
      size_t filled = kept + (size_t) n, at = 0;
      /* Whole lines; at end-of-file or with a full buffer, the rest too. */
      while (at < filled)
        {
          char *nl = memchr (in + at, '\n', filled - at);
          if (nl == NULL && n > 0 && filled < IN_SIZE)
            break;
          size_t end = nl != NULL ? (size_t) (nl - in) + 1 : filled;
          if (line_start)
            memcpy (out + out_len, MARK, MARK_LEN), out_len += MARK_LEN;
          memcpy (out + out_len, in + at, end - at);
          out_len += end - at;
          line_start = nl != NULL;
          at = end;
          if (out_len >= OUT_SIZE)
            {
              if (write_all (out, out_len) < 0)
                return 1;
              out_len = 0;
            }
        }
      kept = filled - at;
      memmove (in, in + at, kept);
      if (n == 0)
        break;
    }
  return write_all (out, out_len) < 0;
}
