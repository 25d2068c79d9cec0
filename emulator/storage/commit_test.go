package storage

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

func TestSubmitRejectsInvalidBatches(t *testing.T) {
	t.Parallel()
	s := openStore(t, true)
	w := newWriter(t, s)
	first := w.commit(set(1, "c", "a"))
	valid := func() *Batch {
		return &Batch{CommitTime: first + 10, Writes: []Write{{DB: testDB, Path: []string{"c", "b"}, Next: Version{CreateTime: first + 10, UpdateTime: first + 10, Fields: fieldsN(1)}}}}
	}
	tests := []struct {
		name   string
		mutate func(b *Batch)
		want   string
	}{
		{"commit time not increasing", func(b *Batch) {
			b.CommitTime = first
			b.Writes[0].Next.UpdateTime, b.Writes[0].Next.CreateTime = first, first
		}, "greater than the previous"},
		{"commit time not positive", func(b *Batch) { b.CommitTime = 0 }, "must be positive"},
		{"update time differs", func(b *Batch) { b.Writes[0].Next.UpdateTime++ }, "Next.UpdateTime"},
		{"odd path", func(b *Batch) { b.Writes[0].Path = []string{"c"} }, "even number"},
		{"empty path", func(b *Batch) { b.Writes[0].Path = nil }, "even number"},
		{"empty segment", func(b *Batch) { b.Writes[0].Path = []string{"c", ""} }, "segment 1 is empty"},
		{"invalid utf8", func(b *Batch) { b.Writes[0].Path = []string{"c", "\xff"} }, "UTF-8"},
		{"missing project", func(b *Batch) { b.Writes[0].DB.Project = "" }, "project"},
		{"tombstone with fields", func(b *Batch) { b.Writes[0].Next.Deleted = true }, "nil Fields"},
		{"create after update", func(b *Batch) { b.Writes[0].Next.CreateTime = b.CommitTime + 1 }, "CreateTime"},
		{"prev not older", func(b *Batch) { b.Writes[0].Prev = &Version{UpdateTime: b.CommitTime, Fields: fieldsN(0)} }, "Prev.UpdateTime"},
		{"duplicate document", func(b *Batch) { b.Writes = append(b.Writes, b.Writes[0]) }, "both write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := valid()
			tt.mutate(b)
			tk := s.Submit(b)
			<-tk.Done()
			if err := tk.Err(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Err() = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("nil batch", func(t *testing.T) {
		tk := s.Submit(nil)
		<-tk.Done()
		if !errors.Is(tk.Err(), ErrInvalid) {
			t.Fatalf("Err() = %v, want ErrInvalid", tk.Err())
		}
	})
	// Rejections leave the store writable and the commit order untouched.
	tk := s.Submit(valid())
	<-tk.Done()
	if err := tk.Err(); err != nil {
		t.Fatalf("valid batch after rejections: %v", err)
	}
	if got := s.DurableTime(); got != first+10 {
		t.Fatalf("DurableTime = %d, want %d", got, first+10)
	}
}

// submitConcurrently has n goroutines each submit one batch (serialised, as the transaction
// layer does) while the flusher is held back, then waits for all tickets.
func submitConcurrently(t *testing.T, s *Store, n int) {
	t.Helper()
	w := newWriter(t, s)
	var submitMu sync.Mutex
	var submitted, finished sync.WaitGroup
	tickets := make(chan *Ticket, n)
	s.writeMu.Lock() // the flusher blocks before its first write, so the rest queue up
	for i := range n {
		submitted.Add(1)
		finished.Add(1)
		go func() {
			defer finished.Done()
			submitMu.Lock()
			tk := s.Submit(w.batch(set(int64(i), "c", "doc"+string(rune('a'+i%26))+strings.Repeat("x", i/26))))
			submitMu.Unlock()
			submitted.Done()
			<-tk.Done()
			tickets <- tk
		}()
	}
	submitted.Wait()
	s.writeMu.Unlock()
	finished.Wait()
	close(tickets)
	for tk := range tickets {
		if err := tk.Err(); err != nil {
			t.Fatalf("ticket: %v", err)
		}
	}
}

func TestGroupCommitSharesFsyncs(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *Store) {
		const n = 64
		submitConcurrently(t, s, n)
		st := s.Stats()
		if st.Batches != n {
			t.Fatalf("Stats().Batches = %d, want %d", st.Batches, n)
		}
		// One flush may have taken the first batch before the rest queued; the rest share one.
		if st.Flushes > 2 {
			t.Fatalf("Stats().Flushes = %d for %d concurrent batches, want at most 2", st.Flushes, n)
		}
	})
}

func TestMaxGroupBytesBoundsGroups(t *testing.T) {
	t.Parallel()
	s := openWith(t, Options{InMemory: true, MaxGroupBytes: 1})
	const n = 10
	submitConcurrently(t, s, n)
	if st := s.Stats(); st.Flushes != n || st.Batches != n {
		t.Fatalf("Stats() = %+v, want %d flushes of one batch each", st, n)
	}
}

// failingFS fails every WAL sync once armed.
func failingFS() (vfs.FS, *errorfs.Toggle) {
	toggle := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if (op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData || op.Kind == errorfs.OpFileSyncTo) && strings.HasSuffix(op.Path, ".log") {
			return errorfs.ErrInjected
		}
		return nil
	})}
	return errorfs.Wrap(vfs.NewMem(), toggle), toggle
}

func TestWriteFailureFailsTheStore(t *testing.T) {
	t.Parallel()
	fs, toggle := failingFS()
	s := openWith(t, Options{fs: fs})
	w := newWriter(t, s)
	good := w.commit(set(1, "c", "a"))

	toggle.On()
	tk := s.Submit(w.batch(set(2, "c", "a")))
	<-tk.Done()
	if err := tk.Err(); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("batch during sync failure: Err() = %v, want ErrWriteFailed", err)
	}
	if got := s.DurableTime(); got != good {
		t.Fatalf("DurableTime = %d after a failed sync, want %d", got, good)
	}
	toggle.Off()
	later := s.Submit(w.batch(set(3, "c", "b")))
	<-later.Done()
	if !errors.Is(later.Err(), ErrWriteFailed) || later.Err() != tk.Err() {
		t.Fatalf("later Submit: Err() = %v, want the first failure %v", later.Err(), tk.Err())
	}
	if _, err := s.CollectGarbage(good); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("CollectGarbage on a failed store: %v, want ErrWriteFailed", err)
	}
	if err := s.DropDatabase(testDB); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("DropDatabase on a failed store: %v, want ErrWriteFailed", err)
	}
	v, err := s.Get(testDB, []string{"c", "a"}, good)
	if err != nil || describe(v) != "c/a=1" {
		t.Fatalf("read after failure = %s, %v; want c/a=1", describe(v), err)
	}
}
