/*
 * C security tests, run by `make test-security` under
 * `vinesync-etcd run --mtls --auth`: etcd with mutual TLS and a user whose
 * role covers the prefix /secured/ only; the settings come in VINESYNC_*.
 * Right settings connect (from the environment); a wrong password, a prefix
 * outside the role and a foreign client certificate fail with the right
 * status and a message that names the problem but not the password.
 * Ends with the line "N passed, M failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vinesync.h>

static int passed, failed;

static void report(const char *name, int ok, const char *detail) {
  if (ok) {
    passed++;
    printf("ok   %s\n", name);
  } else {
    failed++;
    printf("FAIL %s: %s\n", name, detail ? detail : "");
  }
}

static const char *env(const char *name) {
  const char *value = getenv(name);
  return value ? value : "";
}

/* Connects with the environment's settings, changed by the arguments
 * (NULL keeps the environment's value); returns the status and the error
 * message (copied into `message`). */
static vs_status connect_with(const char *prefix, const char *password, const char *cert,
                              const char *key, char *message, size_t size) {
  vs_options *o = NULL;
  vs_sync *s = NULL;
  vs_error *err = NULL;
  vs_status st = vs_options_new(&o, &err);
  if (st == VS_OK) st = vs_options_set_nodes(o, env("VINESYNC_NODES"), &err);
  if (st == VS_OK) st = vs_options_set_prefix(o, prefix ? prefix : env("VINESYNC_PREFIX"), &err);
  if (st == VS_OK) st = vs_options_set_timeouts(o, 2000, 4000, &err);
  if (st == VS_OK)
    st = vs_options_set_tls(o, env("VINESYNC_CACERT"), cert ? cert : env("VINESYNC_CERT"),
                            key ? key : env("VINESYNC_KEY"), NULL, &err);
  if (st == VS_OK)
    st = vs_options_set_credentials(o, env("VINESYNC_USER"),
                                    password ? password : env("VINESYNC_PASSWORD"), &err);
  if (st == VS_OK) st = vs_sync_new_etcd(o, NULL, &s, &err);
  snprintf(message, size, "%s", err ? vs_error_message(err) : "");
  vs_error_free(&err);
  vs_sync_free(&s);
  vs_options_free(&o);
  return st;
}

int main(void) {
  if (!strstr(env("VINESYNC_SECURED"), "auth")) {
    fprintf(stderr, "needs a secured etcd: run under vinesync-etcd run --mtls --auth\n");
    return 2;
  }
  char message[1024];

  /* Right settings, read from the environment as the examples do. */
  vs_sync *s = NULL;
  vs_error *err = NULL;
  vs_status st = vs_sync_new_from_env(NULL, &s, &err);
  int ok = st == VS_OK;
  if (ok) {
    ok = vs_lock(s, "c-secured", 5000, 0, NULL, NULL, &err) == VS_OK &&
         vs_unlock(s, "c-secured", NULL, &err) == VS_OK;
  }
  report("secured_right_settings_connect_from_env", ok, err ? vs_error_message(err) : NULL);
  vs_error_free(&err);
  vs_sync_free(&s);

  const char *wrong = "wrong-c-Pa55";
  st = connect_with(NULL, wrong, NULL, NULL, message, sizeof message);
  report("secured_wrong_password_is_unauthenticated_without_the_password",
         st == VS_UNAUTHENTICATED && !strstr(message, wrong) &&
             strstr(message, env("VINESYNC_USER")),
         message);

  st = connect_with("/not-mine", NULL, NULL, NULL, message, sizeof message);
  report("secured_prefix_outside_the_role_is_permission_denied", st == VS_PERMISSION_DENIED,
         message);

  st = connect_with(NULL, NULL, env("VINESYNC_TEST_OTHER_CERT"), env("VINESYNC_TEST_OTHER_KEY"),
                    message, sizeof message);
  report("secured_foreign_client_certificate_fails_naming_tls",
         st == VS_UNAVAILABLE && strstr(message, "TLS"), message);

  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
