package txn

import (
	"context"
	"sync"
	"testing"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/value"
)

var testDB = resource.Database{Project: "proj", Database: "(default)"}

// fakeClock is a settable Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openMemStore opens an in-memory store closed at the end of the test.
func openMemStore(t testing.TB) *storage.Store {
	t.Helper()
	s, err := storage.Open(storage.Options{InMemory: true})
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newEngine starts an engine over opts.Store, or over a fresh in-memory store when it is nil.
// The engine is closed before its store.
func newEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	if opts.Store == nil {
		opts.Store = openMemStore(t)
	}
	e := New(opts)
	t.Cleanup(e.Close)
	return e
}

func intV(n int64) *pb.Value { return &pb.Value{ValueType: &pb.Value_IntegerValue{IntegerValue: n}} }

func strV(s string) *pb.Value { return &pb.Value{ValueType: &pb.Value_StringValue{StringValue: s}} }

func mapV(fields map[string]*pb.Value) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_MapValue{MapValue: &pb.MapValue{Fields: fields}}}
}

// fieldsN is the document {n: v}.
func fieldsN(v int64) map[string]*pb.Value { return map[string]*pb.Value{"n": intV(v)} }

func fp(segments ...string) value.FieldPath { return value.FieldPath(segments) }

func incrementBy(path value.FieldPath, n int64) FieldTransform {
	return FieldTransform{Path: path, Transform: &pb.DocumentTransform_FieldTransform{
		FieldPath:     path.String(),
		TransformType: &pb.DocumentTransform_FieldTransform_Increment{Increment: intV(n)},
	}}
}

func maximumOf(path value.FieldPath, n int64) FieldTransform {
	return FieldTransform{Path: path, Transform: &pb.DocumentTransform_FieldTransform{
		FieldPath:     path.String(),
		TransformType: &pb.DocumentTransform_FieldTransform_Maximum{Maximum: intV(n)},
	}}
}

// stringIncrement is an increment by a string, which the engine must refuse.
func stringIncrement(path string) *pb.DocumentTransform_FieldTransform {
	return &pb.DocumentTransform_FieldTransform{
		FieldPath:     path,
		TransformType: &pb.DocumentTransform_FieldTransform_Increment{Increment: strV("1")},
	}
}

func boolPtr(b bool) *bool { return &b }

func doc(path ...string) []string { return path }

// set is a write replacing the document at path with {n: v}.
func set(v int64, path ...string) Write { return Write{Path: path, Fields: fieldsN(v)} }

// commit commits writes outside any transaction and fails the test on error.
func commit(t testing.TB, e *Engine, writes ...Write) *CommitResult {
	t.Helper()
	res, err := e.Commit(context.Background(), testDB, nil, writes)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return res
}

// begin starts a transaction and fails the test on error.
func begin(t testing.TB, e *Engine, opts TxnOptions) []byte {
	t.Helper()
	id, err := e.Begin(context.Background(), testDB, opts)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return id
}

// latest reads a document outside any transaction; nil when it does not exist.
func latest(t testing.TB, e *Engine, path []string) *storage.Version {
	t.Helper()
	res, err := e.GetDocuments(context.Background(), testDB, Selector{}, [][]string{path})
	if err != nil {
		t.Fatalf("GetDocuments(%q): %v", path, err)
	}
	return res.Versions[0]
}

// readIn reads one document inside transaction id.
func readIn(e *Engine, id []byte, path []string) (*storage.Version, error) {
	res, err := e.GetDocuments(context.Background(), testDB, Selector{Transaction: id}, [][]string{path})
	if err != nil {
		return nil, err
	}
	return res.Versions[0], nil
}

// mustReadIn is readIn failing the test on error.
func mustReadIn(t testing.TB, e *Engine, id []byte, path []string) *storage.Version {
	t.Helper()
	v, err := readIn(e, id, path)
	if err != nil {
		t.Fatalf("reading %q in a transaction: %v", path, err)
	}
	return v
}

// nOf is the integer field n of v; -1 when v is nil or has no integer n.
func nOf(v *storage.Version) int64 {
	if v == nil {
		return -1
	}
	n, ok := v.Fields["n"].GetValueType().(*pb.Value_IntegerValue)
	if !ok {
		return -1
	}
	return n.IntegerValue
}

// wantKind fails unless err is an engine error of kind want.
func wantKind(t testing.TB, err error, want Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want kind %d", want)
	}
	if got := KindOf(err); got != want {
		t.Fatalf("error %q has kind %d, want %d", err, got, want)
	}
}

// heldTicket stands in for a submitted batch's ticket and keeps the batch from counting as
// durable until the test releases it, so a test can look at what happens meanwhile.
type heldTicket struct {
	real    *storage.Ticket
	release chan struct{}
	done    chan struct{}
	err     error // set by releaseWith: reported instead of the real outcome
}

func (h *heldTicket) Done() <-chan struct{} { return h.done }

func (h *heldTicket) Err() error {
	if h.err != nil {
		return h.err
	}
	return h.real.Err()
}

// releaseWith lets the batch become durable once storage has it; a non-nil err makes the batch
// fail with err instead, as if storage had failed.
func (h *heldTicket) releaseWith(err error) {
	h.err = err
	close(h.release)
}

// holdDurability makes every batch e submits from now on wait for the test's release; the held
// tickets arrive on the returned channel as their batches are submitted. Batches still held
// when the test ends are released then.
func holdDurability(t testing.TB, e *Engine) <-chan *heldTicket {
	held := make(chan *heldTicket, 16)
	var mu sync.Mutex
	var all []*heldTicket
	e.seqMu.Lock()
	e.holdTicket = func(tk *storage.Ticket) ticket {
		h := &heldTicket{real: tk, release: make(chan struct{}), done: make(chan struct{})}
		go func() {
			<-h.release
			<-h.real.Done()
			close(h.done)
		}()
		mu.Lock()
		all = append(all, h)
		mu.Unlock()
		held <- h
		return h
	}
	e.seqMu.Unlock()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, h := range all {
			select {
			case <-h.release:
			default:
				close(h.release)
			}
		}
	})
	return held
}
