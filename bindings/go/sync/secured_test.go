package sync_test

// Security: run by `make test-security` under `vinesync-etcd run --mtls
// --auth`, which starts etcd with mutual TLS and a user whose role covers
// the prefix /secured/ only, and passes the settings in VINESYNC_*.

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vinesync/vinesync/bindings/go/etcd"
	"github.com/vinesync/vinesync/bindings/go/sync"
)

func requireSecured(t *testing.T) {
	t.Helper()
	if !strings.Contains(os.Getenv("VINESYNC_SECURED"), "auth") {
		t.Skip("needs a secured etcd: make test-security")
	}
}

func TestSecuredRightSettingsConnectFromEnv(t *testing.T) {
	requireSecured(t)
	s := etcd.NewSync()
	defer s.Close()
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	if err := s.Lock(context.Background(), "go-secured", sync.LockTTL(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(context.Background(), "go-secured"); err != nil {
		t.Fatal(err)
	}
}

func TestSecuredWrongPasswordIsUnauthenticated(t *testing.T) {
	requireSecured(t)
	const wrong = "wrong-go-Pa55"
	s := etcd.NewSync(sync.Credentials(os.Getenv("VINESYNC_USER"), wrong), sync.Timeouts(2*time.Second, 4*time.Second))
	defer s.Close()
	err := s.Init()
	if !errors.Is(err, sync.ErrUnauthenticated) {
		t.Fatalf("want ErrUnauthenticated, got %v", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), os.Getenv("VINESYNC_PASSWORD")) {
		t.Fatalf("the password is in the error: %v", err)
	}
}

func TestSecuredPrefixOutsideTheRoleIsPermissionDenied(t *testing.T) {
	requireSecured(t)
	s := etcd.NewSync(sync.Prefix("/not-mine"), sync.Timeouts(2*time.Second, 4*time.Second))
	defer s.Close()
	if err := s.Init(); !errors.Is(err, sync.ErrPermissionDenied) {
		t.Fatalf("want ErrPermissionDenied, got %v", err)
	}
}

func TestSecuredForeignClientCertificateFailsNamingTLS(t *testing.T) {
	requireSecured(t)
	s := etcd.NewSync(
		sync.TLS(os.Getenv("VINESYNC_CACERT"), os.Getenv("VINESYNC_TEST_OTHER_CERT"), os.Getenv("VINESYNC_TEST_OTHER_KEY"), ""),
		sync.Timeouts(2*time.Second, 4*time.Second),
	)
	defer s.Close()
	err := s.Init()
	if !errors.Is(err, sync.ErrUnavailable) || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("want ErrUnavailable naming TLS, got %v", err)
	}
}
