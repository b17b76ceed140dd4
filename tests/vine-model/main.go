// vine-model: vine 1.5.10's etcd sync plugin as a command, the "old
// process" of the mixed-fleet tests (vine.go has the plugin's logic).
//
//	vine-model lock ID N TTL DIR    N times: Lock(ID, LockTTL=TTL s), bump DIR's counter, Unlock
//	vine-model hold ID SECONDS      Lock(ID), print "locked", hold, Unlock, print "unlocked"
//	vine-model elect NS ID TTL      Leader("leader", NS, ID) with LeaderTTL=TTL s (ignored, as
//	                                vine ignores it); print "elected ID" once elected; on
//	                                SIGTERM/SIGINT Resign (a no-op unless elected) and exit
//	vine-model members NS           vine's ListMembers as JSON, one member a line
//	vine-model bump DIR             the counter's critical section alone (for other processes)
//
// Endpoints: VINESYNC_NODES (comma-separated), as the test harness sets it.
// Prefix: VINE_PREFIX, empty when unset (vine's default).
//
// Test-only flag, before the command: -leader-session-ttl N gives the
// election session a TTL of N s. Without it (the default) the model does
// what vine does: no TTL option, etcd's concurrency default of 60 s, so a
// killed primary holds the election for up to 60 s. Only the kill -9
// handover test sets it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("vine-model: ")
	flag.IntVar(&leaderSessionTTL, "leader-session-ttl", 0,
		"test only: the election session's TTL in seconds (0: vine's behaviour, no TTL option, etcd's 60 s default)")
	flag.Parse()
	argv := flag.Args()
	if len(argv) < 2 {
		log.Fatalln("usage: vine-model [-leader-session-ttl N] lock|hold|elect|members|bump ARGS (see main.go)")
	}
	if argv[0] == "bump" {
		if err := bump(argv[1]); err != nil {
			log.Fatalln(err)
		}
		return
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   strings.Split(os.Getenv("VINESYNC_NODES"), ","),
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		log.Fatalln(err)
	}
	defer client.Close()
	v := &vine{client: client, prefix: os.Getenv("VINE_PREFIX")}
	ctx := context.Background()
	args := argv[1:]
	switch argv[0] {
	case "lock":
		n, ttl := atoi(args[1]), atoi(args[2])
		for i := 0; i < n; i++ {
			l, err := v.Lock(ctx, args[0], ttl)
			if err != nil {
				log.Fatalln(err)
			}
			if err := bump(args[3]); err != nil {
				log.Fatalln(err)
			}
			if err := v.Unlock(ctx, l); err != nil {
				log.Fatalln(err)
			}
		}
	case "hold":
		l, err := v.Lock(ctx, args[0], 10)
		if err != nil {
			log.Fatalln(err)
		}
		fmt.Println("locked")
		time.Sleep(time.Duration(atoi(args[1])) * time.Second)
		fmt.Println("unlocked")
		if err := v.Unlock(ctx, l); err != nil {
			log.Fatalln(err)
		}
	case "elect":
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		_ = atoi(args[2]) // LeaderTTL: vine ignores it
		c, err := v.Leader("leader", args[0], args[1])
		if err != nil {
			log.Fatalln(err)
		}
		select {
		case <-c.won:
			fmt.Println("elected", args[1])
			<-stop
		case <-stop:
		}
		if err := c.Resign(); err != nil {
			log.Fatalln(err)
		}
	case "members":
		members, err := v.ListMembers(ctx, args[0])
		if err != nil {
			log.Fatalln(err)
		}
		for _, m := range members {
			line, _ := json.Marshal(m)
			fmt.Println(string(line))
		}
	default:
		log.Fatalf("unknown command %q", argv[0])
	}
}

func atoi(text string) int {
	n, err := strconv.Atoi(text)
	if err != nil {
		log.Fatalf("%q is not a number", text)
	}
	return n
}
