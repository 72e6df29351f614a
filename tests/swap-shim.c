/* swap-shim: an LD_PRELOAD library for the hostile-path tests.  Just before
 * the program opens $SWAP_PATH for the first time, it renames $SWAP_WITH
 * over it: the swap an attacker would try to slip in between a check of a
 * path and its open, made certain instead of lucky. */
/* Both open() and open64() are defined here, so neither may be renamed to
 * the other as 64-bit file offsets would have it. */
#undef _FILE_OFFSET_BITS

#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef int (*OpenFunc) (const char *, int, ...);

static int swapped;

static void
swap_before_open (const char *path)
{
  const char *target = getenv ("SWAP_PATH");
  const char *with = getenv ("SWAP_WITH");
  if (!swapped && target != NULL && with != NULL && strcmp (path, target) == 0)
    {
      swapped = 1;
      if (rename (with, target) != 0)
        perror ("swap-shim: rename");
    }
}

/* dlsym() returns an object pointer; ISO C has no cast to a function
 * pointer, so a union carries it across. */
static OpenFunc
next_open (const char *name)
{
  union { void *object; OpenFunc function; } symbol = { dlsym (RTLD_NEXT, name) };
  return symbol.function;
}

static int
shimmed_open (const char *name, const char *path, int flags, va_list ap)
{
  mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? (mode_t) va_arg (ap, int) : 0;
  swap_before_open (path);
  return next_open (name) (path, flags, mode);
}

int
open (const char *path, int flags, ...)
{
  va_list ap;
  va_start (ap, flags);
  int fd = shimmed_open ("open", path, flags, ap);
  va_end (ap);
  return fd;
}

int
open64 (const char *path, int flags, ...)
{
  va_list ap;
  va_start (ap, flags);
  int fd = shimmed_open ("open64", path, flags, ap);
  va_end (ap);
  return fd;
}
