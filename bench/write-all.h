/* write-all.h: writing a whole buffer to stdout, for the bench's small
 * programs that write with blocking writes. */
#pragma once
#include <errno.h>
#include <stddef.h>
#include <unistd.h>

/* 0 once all len bytes are written, -1 on an error. */
static inline int
write_all (const char *buf, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (1, buf, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      buf += n;
      len -= (size_t) n;
    }
  return 0;
}
