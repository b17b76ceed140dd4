// The seed's lock example in C++ with small RAII wrappers over the C API:
// handles and guards free themselves; errors become exceptions.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

#include <vinesync.h>

namespace vs {

struct Error : std::runtime_error {
  vs_status status;
  Error(vs_status s, const std::string &m) : std::runtime_error(m), status(s) {}
};

inline void check(vs_status s, vs_error *err) {
  if (s == VS_OK) return;
  std::string message = vs_error_message(err);
  vs_error_free(&err);
  throw Error(s, message);
}

class Guard {
 public:
  explicit Guard(vs_guard *g) : g_(g) {}
  Guard(Guard &&o) noexcept : g_(o.g_) { o.g_ = nullptr; }
  Guard(const Guard &) = delete;
  ~Guard() { vs_guard_free(&g_); }  // releases the lock if still held
  uint64_t fencing_token() const { return vs_guard_fencing_token(g_); }

 private:
  vs_guard *g_;
};

class Sync {
 public:
  Sync() {
    vs_error *err = nullptr;
    check(vs_sync_new_from_env(nullptr, &s_, &err), err);
  }
  Sync(const Sync &) = delete;
  ~Sync() { vs_sync_free(&s_); }
  std::string name() const { return vs_sync_name(s_); }
  Guard lock(const char *id, uint64_t ttl_ms) {
    vs_guard *g = nullptr;
    vs_error *err = nullptr;
    check(vs_lock(s_, id, ttl_ms, 0, nullptr, &g, &err), err);
    return Guard(g);
  }

 private:
  vs_sync *s_ = nullptr;
};

}  // namespace vs

int main() try {
  vs::Sync s;
  std::printf("backend: %s\n", s.name().c_str());
  std::thread second;
  {
    vs::Guard first = s.lock("lock1", 3000);  // take the lock
    std::printf("lock1 taken, fencing token %llu\n", (unsigned long long)first.fencing_token());
    second = std::thread([&s] {
      vs::Guard g = s.lock("lock1", 3000);  // waits for the first guard
      std::printf("Locked (fencing token %llu)\n", (unsigned long long)g.fencing_token());
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }  // release the lock: the first guard goes out of scope
  std::printf("lock1 released\n");
  second.join();
  return 0;
} catch (const vs::Error &e) {
  std::fprintf(stderr, "vinesync error %d: %s\n", (int)e.status, e.what());
  return 1;
}
