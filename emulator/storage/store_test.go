package storage

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

func TestOpenRequiresADirectory(t *testing.T) {
	t.Parallel()
	if _, err := Open(Options{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open without Dir: %v, want ErrInvalid", err)
	}
}

func TestOpenRefusesUnknownFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		key   []byte
		value []byte
	}{
		{"newer format", formatKey, binary.AppendUvarint(nil, formatVersion+1)},
		{"garbled format", formatKey, nil},
		{"foreign data", []byte("some other key"), []byte("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{discardLogger()}})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Set(tt.key, tt.value, pebble.Sync); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if s, err := Open(Options{Dir: dir}); !errors.Is(err, ErrUnsupportedFormat) {
				if s != nil {
					_ = s.Close()
				}
				t.Fatalf("Open = %v, want ErrUnsupportedFormat", err)
			}
		})
	}
}

func TestReopenKeepsDataAndDurableTime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openWith(t, Options{Dir: dir})
	w := newWriter(t, s)
	w.commit(set(1, "c", "a"))
	last := w.commit(set(2, "c", "a"), set(1, "c", "b"))
	closeChecked(t, s)
	s = openWith(t, Options{Dir: dir})
	if s.DurableTime() != last || s.LastCommitTime() != last {
		t.Fatalf("after reopen DurableTime, LastCommitTime = %d, %d; want %d", s.DurableTime(), s.LastCommitTime(), last)
	}
	for at, want := range map[int64]string{last - 10: "c/a=1", last: "c/a=2"} {
		if v, err := s.Get(testDB, []string{"c", "a"}, at); err != nil || describe(v) != want {
			t.Errorf("Get at %d = %s, %v; want %s", at, describe(v), err, want)
		}
	}
	tk := s.Submit(&Batch{CommitTime: last})
	<-tk.Done()
	if !errors.Is(tk.Err(), ErrInvalid) {
		t.Fatalf("reusing a commit time from before the restart: %v, want ErrInvalid", tk.Err())
	}
}

func TestCloseFlushesQueuedBatches(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *Store) {
		w := newWriter(t, s)
		var tickets []*Ticket
		s.writeMu.Lock() // hold the flusher so the batches are still queued when Close starts
		for i := range 20 {
			tickets = append(tickets, s.Submit(w.batch(set(int64(i), "c", "a"))))
		}
		closed := make(chan error)
		go func() { closed <- s.Close() }()
		s.writeMu.Unlock()
		if err := <-closed; err != nil {
			t.Fatalf("Close: %v", err)
		}
		for i, tk := range tickets {
			select {
			case <-tk.Done():
			default:
				t.Fatalf("ticket %d still pending after Close", i)
			}
			if tk.Err() != nil {
				t.Fatalf("ticket %d: %v", i, tk.Err())
			}
		}
	})
}

func TestClosedStoreRefusesEverything(t *testing.T) {
	t.Parallel()
	s := openStore(t, true)
	w := newWriter(t, s)
	at := w.commit(set(1, "c", "a"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tk := s.Submit(w.batch(set(2, "c", "a")))
	<-tk.Done()
	checks := []struct {
		name string
		err  error
	}{
		{"Submit", tk.Err()},
		{"Close", s.Close()},
		{"Get", func() error { _, err := s.Get(testDB, []string{"c", "a"}, at); return err }()},
		{"Latest", func() error { _, err := s.Latest(testDB, []string{"c", "a"}); return err }()},
		{"Documents", firstErr(s.Snapshot(testDB, at).Documents(nil, "c", false, nil))},
		{"CollectGarbage", func() error { _, err := s.CollectGarbage(at); return err }()},
		{"DropDatabase", s.DropDatabase(testDB)},
	}
	for _, c := range checks {
		if !errors.Is(c.err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", c.name, c.err)
		}
	}
}
