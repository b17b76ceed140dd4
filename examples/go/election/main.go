// The seed's "分布式选举" (distributed election) example as a complete program,
// with the imports a vine v1.5 user has.
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/google/uuid"
	"github.com/vinesync/vinesync/bindings/go/etcd"
	"github.com/vinesync/vinesync/bindings/go/sync"
)

func main() {
	s := etcd.NewSync()
	if err := s.Init(); err != nil {
		log.Fatalln(err)
	}
	id := uuid.NewString()
	// 新 leader
	role1, err := s.Leader(context.TODO(), "leader", sync.LeaderNS("default"), sync.LeaderId(id), sync.LeaderTTL(3))
	if err != nil {
		log.Fatalln(err)
	}
	// 查询所有选举成员
	ms, _ := s.ListMembers(context.TODO(), sync.MemberNS("default"))
	for _, m := range ms {
		fmt.Println(m)
	}
	// 成员辞职
	if err := role1.Resign(); err != nil {
		log.Fatalln(err)
	}
}
