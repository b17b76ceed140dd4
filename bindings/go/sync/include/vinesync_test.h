/*
 * vinesync test build: fault injection for tests. These functions exist
 * only in the test build of the library (cargo feature `test-util` of the
 * ffi crate: `make build-c`); `make install` installs neither them nor this
 * header. Keep in step with ffi/src/faults.rs (the C tests and the Go
 * package's tests fail to link when they differ).
 */
#ifndef VINESYNC_TEST_H
#define VINESYNC_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include "vinesync.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Stops (`suspended` = true) or resumes the handle's lease keepalives, as a
 * paused or partitioned process would. Its locks are then lost after their
 * TTL. */
vs_status vs_sync_fault_suspend_keepalive(const vs_sync *sync, bool suspended, vs_error **err);

/* Simulates `kill -9` of the handle's process: keepalives stop, nothing is
 * released, the handle is closed; its leases expire after their TTL. */
vs_status vs_sync_fault_crash(const vs_sync *sync, vs_error **err);

/* The handle's leases vanish from the store now, without the handle being
 * told (as if they had expired). */
vs_status vs_sync_fault_expire_leases(const vs_sync *sync, vs_error **err);

/* Deletes `key` (with create revision `create_revision`, e.g. a guard's
 * fencing token) as another client would, e.g. to take a lock away from
 * its holder (SPEC L6). VS_NOT_LOCKED when no such key exists. */
vs_status vs_sync_fault_delete_key(const vs_sync *sync, const char *key, int64_t create_revision,
                                   vs_error **err);

/* Panics inside the library, as a bug would: returns VS_INTERNAL with the
 * panic's message in `*err`; nothing is printed to stderr. */
vs_status vs_sync_fault_panic(vs_error **err);

#ifdef __cplusplus
}
#endif

#endif /* VINESYNC_TEST_H */
