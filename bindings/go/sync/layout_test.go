package sync_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vinesync/vinesync/bindings/go/memory"
	"github.com/vinesync/vinesync/bindings/go/sync"
)

// VineLayout puts a lock where vine's plugin does: with vine's default
// (empty) prefix, lock id L is vine's mutex prefix L, keys L/{lease}...
func TestVineLayoutKeys(t *testing.T) {
	t.Setenv("VINESYNC_PREFIX", "")
	ctx := context.Background()
	s := memory.NewSync(sync.VineLayout())
	defer s.Close()
	id := fmt.Sprintf("gotest-vine-layout-%d", os.Getpid())
	if err := s.Lock(ctx, id, sync.LockTTL(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	defer s.Unlock(ctx, id)
	info, err := s.LockInfo(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Holder == nil || !strings.HasPrefix(info.Holder.Key, id+"/") {
		t.Fatalf("holder %+v: want a key under vine's mutex prefix %q", info.Holder, id+"/")
	}
}

// VINESYNC_LAYOUT is read; an unknown value is named by Init, with the
// variable's name.
func TestEnvLayoutIsRead(t *testing.T) {
	t.Setenv("VINESYNC_LAYOUT", "vine2")
	err := memory.NewSync().Init()
	if !errors.Is(err, sync.ErrInvalidArgument) || !strings.Contains(err.Error(), `VINESYNC_LAYOUT="vine2"`) {
		t.Fatalf("VINESYNC_LAYOUT=vine2: %v", err)
	}
}

// DefaultLayout overrides VINESYNC_LAYOUT=vine: vinesync's layout and its
// default prefix (VINESYNC_PREFIX cleared here, not assumed).
func TestDefaultLayoutOverridesEnv(t *testing.T) {
	t.Setenv("VINESYNC_LAYOUT", "vine")
	t.Setenv("VINESYNC_PREFIX", "")
	ctx := context.Background()
	s := memory.NewSync(sync.DefaultLayout())
	defer s.Close()
	id := fmt.Sprintf("gotest-default-layout-%d", os.Getpid())
	if err := s.Lock(ctx, id, sync.LockTTL(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	defer s.Unlock(ctx, id)
	info, err := s.LockInfo(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Holder == nil || !strings.HasPrefix(info.Holder.Key, "/vine/sync/locks/") {
		t.Fatalf("holder %+v: want vinesync's layout under /vine/sync/locks/", info.Holder)
	}
}
