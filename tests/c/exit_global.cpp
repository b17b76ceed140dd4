// SPEC H4 (exit): C++ globals holding a handle, a guard and a leader, as an
// RAII wrapper would; their destructors run after main returns. Must exit 0
// with nothing on stderr, and (on etcd) leave the lock "held" and the
// candidacy in namespace "exit" released: `exit_cases check` verifies it
// (tests/c/run_exit_cases.sh runs both).

#include <cstdlib>

#include <vinesync.h>

#include "backend_under_test.h"

namespace {

struct Globals {
  vs_sync *sync = nullptr;
  vs_guard *guard = nullptr;
  vs_leader *leader = nullptr;
  ~Globals() {
    // Order as a careless program might have it: the handle first.
    vs_sync_free(&sync);
    vs_guard_free(&guard);
    vs_leader_free(&leader);
  }
};

Globals globals;

}  // namespace

int main(int argc, char **argv) {
  const char *prefix = argc > 1 ? argv[1] : "/exit-global";
  globals.sync = new_sync_under(prefix);
  if (!globals.sync) return 2;
  if (vs_lock(globals.sync, "held", 60000, 5000, nullptr, &globals.guard, nullptr) != VS_OK) return 3;
  if (vs_leader_new(globals.sync, "svc", "exit", nullptr, 60000, nullptr, &globals.leader, nullptr) != VS_OK)
    return 4;
  return 0;
}
