package ttl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/txn"
)

var testPolicies = []Policy{{"idempotency", "expire_at"}, {"sessions", "meta.expire"}}

func TestSweepDeletesExpiredDocuments(t *testing.T) {
	e := newEnv(t)
	docs := []struct {
		path    string
		fields  map[string]*pb.Value
		deleted bool
	}{
		{"idempotency/past", expireAt(sweepNow.Add(-time.Hour)), true},
		{"idempotency/exactly-now", expireAt(sweepNow), true},
		{"idempotency/future", expireAt(sweepNow.Add(time.Microsecond)), false},
		{"idempotency/string", map[string]*pb.Value{"expire_at": str("2000-01-01T00:00:00Z")}, false},
		{"idempotency/missing", map[string]*pb.Value{"created_at": at(sweepNow.Add(-time.Hour))}, false},
		{"users/u1/idempotency/nested", expireAt(sweepNow.Add(-time.Hour)), true},
		{"users/u1/idempotency/nested/children/c", expireAt(sweepNow.Add(-time.Hour)), false},
		{"a/b/c/d/idempotency/deep", expireAt(sweepNow.Add(-time.Minute)), true},
		{"sessions/s1", map[string]*pb.Value{"meta": mapOf(map[string]*pb.Value{"expire": at(sweepNow.Add(-time.Minute))})}, true},
		{"sessions/s2", map[string]*pb.Value{"meta": mapOf(map[string]*pb.Value{"expire": at(sweepNow.Add(time.Minute))})}, false},
		{"sessions/s3", expireAt(sweepNow.Add(-time.Hour)), false},
		{"other/o1", expireAt(sweepNow.Add(-time.Hour)), false},
	}
	wantDeleted := 0
	for _, db := range []resource.Database{mainDB, otherDB} {
		batch := map[string]map[string]*pb.Value{}
		for _, d := range docs {
			batch[d.path] = d.fields
			if d.deleted {
				wantDeleted++
			}
		}
		e.put(db, batch)
	}
	s := e.sweeper(Options{Policies: testPolicies})

	if n := sweep(t, s); n != wantDeleted {
		t.Fatalf("Sweep deleted %d documents, want %d", n, wantDeleted)
	}
	for _, db := range []resource.Database{mainDB, otherDB} {
		for _, d := range docs {
			t.Run(db.Database+"/"+d.path, func(t *testing.T) {
				if got := e.exists(db, d.path); got == d.deleted {
					t.Fatalf("exists = %v after the sweep, want %v", got, !d.deleted)
				}
			})
		}
	}
	if n := sweep(t, s); n != 0 {
		t.Fatalf("second Sweep deleted %d documents, want 0", n)
	}
}

func TestSweepSparesDocumentsChangedAfterTheScan(t *testing.T) {
	e := newEnv(t)
	past := sweepNow.Add(-time.Hour)
	e.put(mainDB, map[string]map[string]*pb.Value{
		"idempotency/extended": expireAt(past),
		"idempotency/gone":     expireAt(past),
		"idempotency/plain":    expireAt(past),
		"idempotency/touched":  expireAt(past),
	})
	s := e.sweeper(Options{Policies: testPolicies})
	var scanned []string
	s.beforeDelete = func(db resource.Database, writes []txn.Write) {
		for _, w := range writes {
			scanned = append(scanned, strings.Join(w.Path, "/"))
		}
		e.put(db, map[string]map[string]*pb.Value{
			"idempotency/extended": expireAt(sweepNow.Add(time.Hour)),
			"idempotency/touched":  {"expire_at": at(past), "note": str("still expired")},
		})
		e.remove(db, "idempotency/gone")
	}
	if n := sweep(t, s); n != 1 {
		t.Fatalf("Sweep deleted %d documents, want 1 (only idempotency/plain)", n)
	}
	want := []string{"idempotency/extended", "idempotency/gone", "idempotency/plain", "idempotency/touched"}
	if !slices.Equal(scanned, want) {
		t.Fatalf("the scan found %q, want %q", scanned, want)
	}
	for path, exists := range map[string]bool{
		"idempotency/extended": true, "idempotency/gone": false, "idempotency/plain": false, "idempotency/touched": true,
	} {
		if got := e.exists(mainDB, path); got != exists {
			t.Errorf("%s exists = %v, want %v", path, got, exists)
		}
	}

	// The next pass sees the touched document's new version, still expired.
	s.beforeDelete = nil
	if n := sweep(t, s); n != 1 {
		t.Fatalf("second Sweep deleted %d documents, want 1 (idempotency/touched)", n)
	}
	if e.exists(mainDB, "idempotency/touched") || !e.exists(mainDB, "idempotency/extended") {
		t.Fatal("the second pass must delete idempotency/touched and keep idempotency/extended")
	}
}

func TestSweepDeletesInBatches(t *testing.T) {
	tests := []struct {
		expired   int
		wantSizes []int
	}{
		{0, nil},
		{1, []int{1}},
		{maxBatch, []int{maxBatch}},
		{2*maxBatch + 201, []int{maxBatch, maxBatch, 201}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.expired), func(t *testing.T) {
			e := newEnv(t)
			batch := map[string]map[string]*pb.Value{}
			flush := func() {
				if len(batch) > 0 {
					e.put(mainDB, batch)
					batch = map[string]map[string]*pb.Value{}
				}
			}
			for i := range tt.expired {
				// Unexpired documents interleave with expired ones in name order.
				batch[fmt.Sprintf("idempotency/%05d-a", i)] = expireAt(sweepNow.Add(-time.Hour))
				batch[fmt.Sprintf("idempotency/%05d-b", i)] = expireAt(sweepNow.Add(time.Hour))
				if len(batch) >= maxBatch {
					flush()
				}
			}
			flush()
			s := e.sweeper(Options{Policies: testPolicies})
			var sizes []int
			s.beforeDelete = func(_ resource.Database, writes []txn.Write) { sizes = append(sizes, len(writes)) }
			if n := sweep(t, s); n != tt.expired {
				t.Fatalf("Sweep deleted %d documents, want %d", n, tt.expired)
			}
			if !slices.Equal(sizes, tt.wantSizes) {
				t.Fatalf("batch sizes %v, want %v", sizes, tt.wantSizes)
			}
			if n := sweep(t, s); n != 0 {
				t.Fatalf("second Sweep deleted %d documents, want 0", n)
			}
		})
	}
}

// failingEngine fails every BatchWrite to one database.
type failingEngine struct {
	*txn.Engine
	broken resource.Database
}

var errWriteFailed = errors.New("injected write failure")

func (f failingEngine) BatchWrite(ctx context.Context, db resource.Database, writes []txn.Write) (*txn.CommitResult, []error, error) {
	if db == f.broken {
		return nil, nil, errWriteFailed
	}
	return f.Engine.BatchWrite(ctx, db, writes)
}

func TestSweepContinuesPastAFailingDatabase(t *testing.T) {
	e := newEnv(t)
	for _, db := range []resource.Database{mainDB, otherDB} {
		e.put(db, map[string]map[string]*pb.Value{"idempotency/x": expireAt(sweepNow.Add(-time.Hour))})
	}
	s := e.sweeper(Options{Engine: failingEngine{Engine: e.engine, broken: mainDB}, Policies: testPolicies})
	n, err := s.Sweep(context.Background())
	if !errors.Is(err, errWriteFailed) || !strings.Contains(err.Error(), mainDB.Name()) {
		t.Fatalf("Sweep error = %v, want the injected failure naming %s", err, mainDB.Name())
	}
	if n != 1 || e.exists(otherDB, "idempotency/x") || !e.exists(mainDB, "idempotency/x") {
		t.Fatalf("Sweep deleted %d; want only %s's document deleted", n, otherDB.Name())
	}
}

func TestSweepStopsWhenCancelled(t *testing.T) {
	e := newEnv(t)
	e.put(mainDB, map[string]map[string]*pb.Value{"idempotency/x": expireAt(sweepNow.Add(-time.Hour))})
	s := e.sweeper(Options{Policies: testPolicies})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := s.Sweep(ctx)
	if !errors.Is(err, context.Canceled) || n != 0 {
		t.Fatalf("Sweep with a cancelled context = %d, %v; want 0, context.Canceled", n, err)
	}
	if !e.exists(mainDB, "idempotency/x") {
		t.Fatal("a cancelled sweep deleted a document")
	}
}

func TestSweepWithoutPolicies(t *testing.T) {
	e := newEnv(t)
	e.put(mainDB, map[string]map[string]*pb.Value{"idempotency/x": expireAt(sweepNow.Add(-time.Hour))})
	if n := sweep(t, e.sweeper(Options{})); n != 0 || !e.exists(mainDB, "idempotency/x") {
		t.Fatalf("Sweep without policies deleted %d documents", n)
	}
}

// BenchmarkSweepAmongUnexpired measures a pass that finds 10 expired documents among 100,000
// that expire later: through the expiry index it reads only the 10.
func BenchmarkSweepAmongUnexpired(b *testing.B) {
	e := newEnv(b)
	put := func(prefix string, n int, at time.Time) {
		for i := 0; i < n; i += maxBatch {
			docs := map[string]map[string]*pb.Value{}
			for j := i; j < min(n, i+maxBatch); j++ {
				docs[fmt.Sprintf("idempotency/%s%06d", prefix, j)] = expireAt(at)
			}
			e.put(mainDB, docs)
		}
	}
	put("later-", 100_000, sweepNow.Add(time.Hour))
	s := e.sweeper(Options{Policies: testPolicies})
	for b.Loop() {
		b.StopTimer()
		put("due-", 10, sweepNow.Add(-time.Hour))
		b.StartTimer()
		if n, err := s.Sweep(context.Background()); err != nil || n != 10 {
			b.Fatalf("Sweep = %d, %v; want 10 deleted", n, err)
		}
	}
}
