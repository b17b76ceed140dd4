// Command vinesync-bench-go: the Go rows of `make bench` — vinesync
// lock+unlock from Go (cgo over libvinesync) on the memory store and, when
// VINESYNC_NODES is set, on etcd. Prints one JSON line per measurement for
// vinesync-bench --external. BENCH_QUICK=1 measures less.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/vinesync/vinesync/bindings/go/sync"
)

// libHash is set by `make bench` (-ldflags -X) to a hash of libvinesync.a,
// so the go build cache relinks when the library changes.
var libHash string

type measurement struct {
	Section   string    `json:"section"`
	Language  string    `json:"language"`
	Kind      string    `json:"kind"`
	SamplesNs []float64 `json:"samples_ns"`
	TotalNs   float64   `json:"total_ns"`
	Ops       int       `json:"ops"`
}

func emit(m measurement) {
	line, err := json.Marshal(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vinesync-bench-go:", err)
		os.Exit(1)
	}
	fmt.Println(string(line))
}

func lockUnlock(c *sync.Client) {
	g, err := c.LockGuard(context.Background(), "bench", sync.LockTTL(time.Minute))
	if err == nil {
		err = g.Unlock()
		g.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vinesync-bench-go:", err)
		os.Exit(1)
	}
}

func benchMemory(batch, batches int) {
	memory := sync.New("memory", sync.Prefix("/bench/go"))
	for i := 0; i < batch; i++ {
		lockUnlock(memory)
	}
	m := measurement{Section: "memory", Language: "go", Kind: "lock+unlock", Ops: batch * batches}
	for b := 0; b < batches; b++ {
		start := time.Now()
		for i := 0; i < batch; i++ {
			lockUnlock(memory)
		}
		elapsed := float64(time.Since(start).Nanoseconds())
		m.SamplesNs = append(m.SamplesNs, elapsed/float64(batch))
		m.TotalNs += elapsed
	}
	emit(m)
	memory.Close()
}

func main() {
	_ = libHash
	quick := os.Getenv("BENCH_QUICK") == "1"
	batch, batches, etcdOps := 2000, 50, 500
	if quick {
		batch, batches, etcdOps = 200, 10, 50
	}
	// One short round of the interleaved etcd ratio (make bench alternates
	// this program with the Rust floor): the etcd row only.
	etcdOnly := false
	if n, err := strconv.Atoi(os.Getenv("BENCH_ETCD_OPS")); err == nil && n > 0 {
		etcdOnly, etcdOps = true, n
	}
	if !etcdOnly {
		benchMemory(batch, batches)
	}

	if os.Getenv("VINESYNC_NODES") == "" {
		fmt.Fprintln(os.Stderr, "vinesync-bench-go: VINESYNC_NODES is not set: etcd row skipped")
		return
	}
	etcd := sync.New("etcd", sync.Prefix("/bench/go"))
	if err := etcd.Init(); err != nil {
		fmt.Fprintln(os.Stderr, "vinesync-bench-go:", err)
		os.Exit(1)
	}
	for i := 0; i < 5; i++ {
		lockUnlock(etcd)
	}
	m := measurement{Section: "etcd", Language: "go", Kind: "lock+unlock", Ops: etcdOps}
	for i := 0; i < etcdOps; i++ {
		start := time.Now()
		lockUnlock(etcd)
		elapsed := float64(time.Since(start).Nanoseconds())
		m.SamplesNs = append(m.SamplesNs, elapsed)
		m.TotalNs += elapsed
	}
	emit(m)
	etcd.Close()
}
