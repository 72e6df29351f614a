/* kv-server: a small line-oriented server written with GIO sockets, the
 * kind of program pipe-harness is for.  It keeps one table of keys and
 * values for all its clients.
 *
 *   build/part6-harness/examples/kv-server [--port N]
 *
 * With port 0 (the default) the system picks a free port; either way it
 * prints "listening on 127.0.0.1 port N".  Each client sends one command a
 * line and gets one line back:
 *
 *   login NAME        welcome NAME
 *   set KEY VALUE     ok
 *   get KEY           KEY = VALUE        (or: error: no KEY)
 *   keys              keys: KEY KEY …
 *   quit              bye, and the server closes the connection
 *
 * Until it logs in, a client gets "error: log in first".  The server logs
 * every connection and command on its stdout, line-buffered so that a pipe
 * (pipe-harness) gets each line at once.  It runs until killed.
 */
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  guint id;
  GSocketConnection *connection;
  GDataInputStream *in;
  GOutputStream *out;
  char *user;
  GHashTable *table; /* shared by every client */
} Client;

static void read_next_command (Client *client);

static void
client_free (Client *client)
{
  printf ("client %u: disconnected\n", client->id);
  g_object_unref (client->in);
  g_object_unref (client->connection);
  g_free (client->user);
  g_free (client);
}

static gboolean
answer (Client *client, const char *text)
{
  g_autofree char *line = g_strconcat (text, "\n", NULL);
  g_autoptr (GError) error = NULL;
  if (!g_output_stream_write_all (client->out, line, strlen (line), NULL, NULL, &error))
    {
      printf ("client %u: cannot answer: %s\n", client->id, error->message);
      return FALSE;
    }
  return TRUE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Runs one command; FALSE when the connection is to end. */
static gboolean
run_command (Client *client, const char *line)
{
  g_auto (GStrv) words = g_strsplit (line, " ", 3);
  const char *verb = words[0] ? words[0] : "";
  guint n = g_strv_length (words);

  if (strcmp (verb, "quit") == 0)
    {
      answer (client, "bye");
      return FALSE;
    }
  if (strcmp (verb, "login") == 0 && n == 2 && *words[1] != '\0')
    {
      g_free (client->user);
      client->user = g_strdup (words[1]);
      printf ("client %u: logged in as %s\n", client->id, client->user);
      g_autofree char *welcome = g_strdup_printf ("welcome %s", client->user);
      return answer (client, welcome);
    }
  if (client->user == NULL)
    return answer (client, "error: log in first");
  if (strcmp (verb, "set") == 0 && n == 3)
    {
      g_hash_table_replace (client->table, g_strdup (words[1]), g_strdup (words[2]));
      printf ("client %u: %s set %s\n", client->id, client->user, words[1]);
      return answer (client, "ok");
    }
  if (strcmp (verb, "get") == 0 && n == 2)
    {
      const char *value = g_hash_table_lookup (client->table, words[1]);
      g_autofree char *text = value ? g_strdup_printf ("%s = %s", words[1], value)
                                    : g_strdup_printf ("error: no %s", words[1]);
      return answer (client, text);
    }
  if (strcmp (verb, "keys") == 0 && n == 1)
    {
      guint count;
      g_autofree gpointer *keys = g_hash_table_get_keys_as_array (client->table, &count);
      qsort (keys, count, sizeof *keys, compare_strings);
      g_autofree char *list = g_strjoinv (" ", (char **) keys);
      g_autofree char *text = g_strdup_printf ("keys: %s", list);
      return answer (client, text);
    }
  return answer (client, "error: commands are login NAME, set KEY VALUE, get KEY, keys, quit");
}

static void
on_command_read (GObject *source, GAsyncResult *result, gpointer data)
{
  Client *client = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (
    G_DATA_INPUT_STREAM (source), result, NULL, &error);

  if (line == NULL)
    {
      if (error != NULL)
        printf ("client %u: %s\n", client->id, error->message);
      client_free (client);
      return;
    }
  g_strchomp (line);
  if (run_command (client, line))
    read_next_command (client);
  else
    client_free (client);
}

static void
read_next_command (Client *client)
{
  g_data_input_stream_read_line_async (client->in, G_PRIORITY_DEFAULT, NULL,
                                       on_command_read, client);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection,
             GObject *source, gpointer data)
{
  static guint next_id = 1;
  Client *client = g_new0 (Client, 1);
  (void) service;
  (void) source;

  client->id = next_id++;
  client->connection = g_object_ref (connection);
  client->in = g_data_input_stream_new (
    g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  client->out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  client->table = data;
  printf ("client %u: connected\n", client->id);
  read_next_command (client);
  return TRUE;
}

int
main (int argc, char **argv)
{
  int port = 0;
  g_autoptr (GError) error = NULL;
  const GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "Port to listen on (0: any free one)", "N" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- a tiny key-value server");

  /* Each log line reaches a pipe at once, not when a 4 KiB buffer fills. */
  setvbuf (stdout, NULL, _IOLBF, 0);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 1 ||
      port < 0 || port > 65535)
    {
      fprintf (stderr, "kv-server: %s\n", error ? error->message : "usage: kv-server [--port N]");
      return 2;
    }

  g_autoptr (GHashTable) table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GSocketService) service = g_socket_service_new ();
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) wanted = g_inet_socket_address_new (loopback, port);
  g_autoptr (GSocketAddress) bound = NULL;

  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), wanted,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &bound, &error))
    {
      fprintf (stderr, "kv-server: cannot listen on 127.0.0.1 port %d: %s\n", port,
               error->message);
      return 1;
    }
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), table);
  printf ("listening on 127.0.0.1 port %u\n",
          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_main_loop_run (loop);
  return 0;
}
