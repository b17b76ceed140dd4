/* The seed's election example ("分布式选举") in C: join, list members, resign.
 * Memory backend by default; etcd when VINESYNC_NODES is set. */
#include <stdio.h>
#include <stdlib.h>

#include <vinesync.h>

static void fatal(const char *what, vs_error *err) {
  fprintf(stderr, "%s: %s\n", what, vs_error_message(err));
  vs_error_free(&err);
  exit(1);
}

int main(void) {
  vs_sync *s = NULL;
  vs_error *err = NULL;
  if (vs_sync_new_from_env(NULL, &s, &err) != VS_OK) fatal("init", err);
  printf("backend: %s\n", vs_sync_name(s));
  /* new leader: namespace "default", a fresh UUID as id, TTL 3 s */
  vs_leader *role1 = NULL;
  if (vs_leader_new(s, "leader", "default", NULL, 3000, NULL, &role1, &err) != VS_OK) fatal("leader", err);
  if (vs_leader_wait_elected(role1, 5000, NULL, &err) != VS_OK) fatal("wait_elected", err);
  printf("%s is primary\n", vs_leader_id(role1));
  /* list all election members */
  vs_member_list *ms = NULL;
  if (vs_list_members(s, "default", NULL, &ms, &err) != VS_OK) fatal("list_members", err);
  for (size_t i = 0; i < vs_member_list_len(ms); i++) {
    const vs_member *m = vs_member_list_get(ms, i);
    printf("{leader: %s, id: %s, namespace: %s, role: %s}\n", vs_member_leader(m), vs_member_id(m),
           vs_member_namespace(m), vs_member_is_primary(m) ? "primary" : "follow");
  }
  vs_member_list_free(&ms);
  /* the member resigns */
  if (vs_leader_resign(role1, NULL, &err) != VS_OK) fatal("resign", err);
  printf("%s resigned\n", vs_leader_id(role1));
  vs_leader_free(&role1);
  vs_sync_free(&s);
  return 0;
}
