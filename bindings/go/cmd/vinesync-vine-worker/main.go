// Command vinesync-vine-worker: the Go vinesync process of the mixed-fleet
// tests with vine processes (tests/vine-model), written as a vine user
// would after changing the imports, with sync.VineLayout():
//
//	vinesync-vine-worker lock ID N TTL_S -- CMD...   N times: Lock(ID), run CMD, Unlock
//	vinesync-vine-worker elect NS ID TTL_S           Leader("leader", NS, ID, TTL); print
//	                                                 "elected ID" once primary; hold until
//	                                                 SIGTERM/SIGINT (then Resign) or SIGKILL
//
// Endpoints: VINESYNC_NODES; prefix: VINESYNC_PREFIX, else vine's default
// (empty) under the vine layout.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/vinesync/vinesync/bindings/go/etcd"
	"github.com/vinesync/vinesync/bindings/go/sync"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("vinesync-vine-worker: ")
	if len(os.Args) < 5 {
		log.Fatalln("usage: vinesync-vine-worker lock ID N TTL_S -- CMD... | elect NS ID TTL_S")
	}
	s := etcd.NewSync(sync.VineLayout())
	if err := s.Init(); err != nil {
		log.Fatalln(err)
	}
	defer s.Close()
	ctx := context.Background()
	args := os.Args[2:]
	switch os.Args[1] {
	case "lock":
		n, ttl := atoi(args[1]), atoi(args[2])
		cmd := args[4:] // after "--"
		for i := 0; i < n; i++ {
			if err := s.Lock(ctx, args[0], sync.LockTTL(time.Duration(ttl)*time.Second)); err != nil {
				log.Fatalln(err)
			}
			run := exec.Command(cmd[0], cmd[1:]...)
			run.Stdout, run.Stderr = os.Stdout, os.Stderr
			if err := run.Run(); err != nil {
				log.Fatalln(err)
			}
			if err := s.Unlock(ctx, args[0]); err != nil {
				log.Fatalln(err)
			}
		}
	case "elect":
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		candidate, err := s.Elect(ctx, "leader", sync.LeaderNS(args[0]), sync.LeaderId(args[1]), sync.LeaderTTL(int64(atoi(args[2]))))
		if err != nil {
			log.Fatalln(err)
		}
		if err := candidate.WaitElected(ctx); err != nil {
			log.Fatalln(err)
		}
		fmt.Println("elected", args[1])
		<-stop
		if err := candidate.Resign(); err != nil {
			log.Fatalln(err)
		}
	default:
		log.Fatalf("unknown command %q", os.Args[1])
	}
}

func atoi(text string) int {
	n, err := strconv.Atoi(text)
	if err != nil {
		log.Fatalf("%q is not a number", text)
	}
	return n
}
