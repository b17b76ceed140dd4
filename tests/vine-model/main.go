// vine-model: vine 1.5.10's etcd sync plugin as a command, the "old
// process" of the mixed-fleet tests (vine.go has the plugin's logic).
//
//	vine-model lock ID N TTL DIR    N times: Lock(ID, LockTTL=TTL s), bump DIR's counter, Unlock
//	vine-model hold ID SECONDS      Lock(ID), print "locked", hold, Unlock, print "unlocked"
//	vine-model elect NS ID TTL      Leader("leader", NS, ID, TTL s); print "elected ID" and
//	                                hold until SIGTERM/SIGINT (then Resign) or SIGKILL
//	vine-model members NS           vine's ListMembers as JSON, one member a line
//	vine-model bump DIR             the counter's critical section alone (for other processes)
//
// Endpoints: VINESYNC_NODES (comma-separated), as the test harness sets it.
// Prefix: VINE_PREFIX, empty when unset (vine's default).
package main

import (
	"context"
	"encoding/json"
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
	if len(os.Args) < 3 {
		log.Fatalln("usage: vine-model lock|hold|elect|members|bump ARGS (see main.go)")
	}
	if os.Args[1] == "bump" {
		if err := bump(os.Args[2]); err != nil {
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
	args := os.Args[2:]
	switch os.Args[1] {
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
		c, err := v.Leader(ctx, "leader", args[0], args[1], atoi(args[2]))
		if err != nil {
			log.Fatalln(err)
		}
		fmt.Println("elected", args[1])
		<-stop
		if err := c.Resign(ctx); err != nil {
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
