package ttl

import (
	"context"
	"strings"
	"testing"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/txn"
)

var (
	mainDB  = resource.Database{Project: "p", Database: "(default)"}
	otherDB = resource.Database{Project: "p", Database: "other"}
)

// sweepNow is the sweeper's clock in tests; the engine keeps the real one.
var sweepNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// env is an in-memory engine over an in-memory store.
type env struct {
	t      testing.TB
	store  *storage.Store
	engine *txn.Engine
}

// newEnv's store keeps the expiry index of testPolicies.
func newEnv(t testing.TB) *env {
	t.Helper()
	expiry, err := StorageExpiry(testPolicies)
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(storage.Options{InMemory: true, Expiry: expiry})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("closing store: %v", err)
		}
	})
	engine := txn.New(txn.Options{Store: store})
	t.Cleanup(engine.Close)
	return &env{t: t, store: store, engine: engine}
}

func (e *env) sweeper(opts Options) *Sweeper {
	e.t.Helper()
	if opts.Engine == nil {
		opts.Engine = e.engine
	}
	opts.Store = e.store
	opts.Now = func() time.Time { return sweepNow }
	s, err := New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func split(path string) []string { return strings.Split(path, "/") }

// put writes whole documents, given as path → fields, in one commit.
func (e *env) put(db resource.Database, docs map[string]map[string]*pb.Value) {
	e.t.Helper()
	var writes []txn.Write
	for path, fields := range docs {
		writes = append(writes, txn.Write{Path: split(path), Fields: fields})
	}
	if _, err := e.engine.Commit(context.Background(), db, nil, writes); err != nil {
		e.t.Fatalf("writing %d documents: %v", len(writes), err)
	}
}

func (e *env) remove(db resource.Database, path string) {
	e.t.Helper()
	if _, err := e.engine.Commit(context.Background(), db, nil, []txn.Write{{Path: split(path), Delete: true}}); err != nil {
		e.t.Fatalf("deleting %s: %v", path, err)
	}
}

func (e *env) exists(db resource.Database, path string) bool {
	e.t.Helper()
	res, err := e.engine.GetDocuments(context.Background(), db, txn.Selector{}, [][]string{split(path)})
	if err != nil {
		e.t.Fatalf("reading %s: %v", path, err)
	}
	return res.Versions[0] != nil
}

func sweep(t *testing.T, s *Sweeper) int {
	t.Helper()
	n, err := s.Sweep(context.Background())
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	return n
}

func at(t time.Time) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_TimestampValue{TimestampValue: timestamppb.New(t)}}
}

func str(s string) *pb.Value { return &pb.Value{ValueType: &pb.Value_StringValue{StringValue: s}} }

func mapOf(fields map[string]*pb.Value) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_MapValue{MapValue: &pb.MapValue{Fields: fields}}}
}

func expireAt(t time.Time) map[string]*pb.Value { return map[string]*pb.Value{"expire_at": at(t)} }
