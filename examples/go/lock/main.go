// The seed's "分布式锁" (distributed lock) example as a complete program,
// with the imports a vine v1.5 user has.
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/vinesync/vinesync/bindings/go/etcd"
	"github.com/vinesync/vinesync/bindings/go/sync"
)

func main() {
	s := etcd.NewSync()
	if err := s.Init(); err != nil {
		log.Fatalln(err)
	}
	// 创建锁
	err := s.Lock(context.TODO(), "lock1", sync.LockTTL(time.Second*3))
	if err != nil {
		log.Fatalln(err)
	}
	ch := make(chan struct{}, 1)
	go func() {
		err := s.Lock(context.TODO(), "lock1", sync.LockTTL(time.Second*3))
		if err != nil {
			log.Fatalln(err)
		}
		fmt.Println("Locked")
		ch <- struct{}{}
	}()
	// 释放锁
	if err = s.Unlock(context.TODO(), "lock1"); err != nil {
		log.Fatalln(err)
	}
	fmt.Println("lock1 released")
	<-ch
}
