package etcdstore_test

import (
	"context"
	"encoding/json"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sequencer-dev/sequencer/etcdstore"
	"github.com/sequencer-dev/sequencer/etcdstore/etcdtest"
	"github.com/sequencer-dev/sequencer/store"
)

// One durable progress update by a leader (a transaction conditioned on
// its election key), next to a raw etcd Put of the same bytes on the same
// single-member cluster, fsync on, in the same run.
func BenchmarkEtcdPutProgress(b *testing.B) {
	cli := client(b, etcdtest.StartDurable(b, 1))
	p := store.Progress{Sequence: "nightly", SpecHash: "abc", Generation: 3,
		Run: &store.Run{ID: "nightly@2026-11-24T23:00:00Z", Item: 1, ItemName: "retries", ItemState: "dialing"}}
	b.Run("fenced-store", func(b *testing.B) {
		base, err := etcdstore.Open(context.Background(), cli, etcdstore.Options{Prefix: "/bench/"})
		if err != nil {
			b.Fatal(err)
		}
		lease, err := cli.Grant(context.Background(), 60)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := cli.Put(context.Background(), "/bench/leader/x", "me", clientv3.WithLease(lease.ID)); err != nil {
			b.Fatal(err)
		}
		r, err := cli.Get(context.Background(), "/bench/leader/x")
		if err != nil {
			b.Fatal(err)
		}
		s := base.Fenced(etcdstore.Fence{Key: "/bench/leader/x", Rev: r.Kvs[0].CreateRevision})
		for b.Loop() {
			if err := s.PutProgress(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-put", func(b *testing.B) {
		raw, _ := json.Marshal(p)
		for b.Loop() {
			if _, err := cli.Put(context.Background(), "/raw/progress/nightly", string(raw)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
