package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestGetAllAnswersEveryDocument(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := context.Background()
		col := c.Collection("getall")
		for _, id := range []string{"a", "c"} {
			if _, err := col.Doc(id).Set(ctx, map[string]any{"id": id}); err != nil {
				t.Fatal(err)
			}
		}
		refs := []*firestore.DocumentRef{col.Doc("a"), col.Doc("b"), col.Doc("c"), col.Doc("a"), col.Doc("zz")}
		snaps, err := c.GetAll(ctx, refs)
		if err != nil {
			t.Fatal(err)
		}
		wantExists := []bool{true, false, true, true, false}
		for i, s := range snaps {
			if s.Exists() != wantExists[i] {
				t.Errorf("%s: exists = %v, want %v", refs[i].Path, s.Exists(), wantExists[i])
			}
			if s.ReadTime.IsZero() {
				t.Errorf("%s: no read time", refs[i].Path)
			}
			if s.Exists() && (s.CreateTime.IsZero() || s.UpdateTime.IsZero() || s.UpdateTime.Before(s.CreateTime)) {
				t.Errorf("%s: create %v update %v", refs[i].Path, s.CreateTime, s.UpdateTime)
			}
		}
	})
}

// TestConcurrentReadModifyWrite is the contention case that stalls other emulators: every
// transaction reads and writes the same document. All must finish, and the count must be exact.
func TestConcurrentReadModifyWrite(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := context.Background()
		doc := c.Collection("rmw").Doc("hot")
		const workers, perWorker = 32, 5
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perWorker {
					err := c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
						snap, err := tx.Get(doc)
						var n int64
						if err == nil {
							n = snap.Data()["n"].(int64)
						} else if status.Code(err) != codes.NotFound {
							return err
						}
						return tx.Set(doc, map[string]any{"n": n + 1})
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("transaction failed: %v", err)
		}
		if got := mustGet(t, doc).Data()["n"]; got != int64(workers*perWorker) {
			t.Fatalf("n = %v, want %d", got, workers*perWorker)
		}
	})
}

func TestTransactionConflictsAreDetected(t *testing.T) {
	t.Parallel()
	c := newClient(t, false)
	ctx := context.Background()
	doc := c.Collection("conflict").Doc("d")
	if _, err := doc.Set(ctx, map[string]any{"n": 0}); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	err := c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		attempts++
		snap, err := tx.Get(doc)
		if err != nil {
			return err
		}
		if attempts == 1 {
			// A write outside the transaction, to a document it read: waits for the lock, which
			// is abandoned after the lock wait, aborting this attempt.
			if _, err := doc.Set(ctx, map[string]any{"n": 100}); err != nil {
				return fmt.Errorf("outside write: %w", err)
			}
		}
		return tx.Set(doc, map[string]any{"n": snap.Data()["n"].(int64) + 1})
	}, firestore.MaxAttempts(3))
	if err != nil {
		t.Fatal(err)
	}
	if attempts < 2 {
		t.Fatalf("the transaction committed on its first attempt despite a conflicting write")
	}
	if got := mustGet(t, doc).Data()["n"]; got != int64(101) {
		t.Fatalf("n = %v, want 101 (the retry must see the outside write)", got)
	}
}

func TestReadOnlyTransactions(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := context.Background()
		doc := c.Collection("ro").Doc("d")
		wr, err := doc.Set(ctx, map[string]any{"v": "old"})
		if err != nil {
			t.Fatal(err)
		}
		err = c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			before, err := tx.Get(doc)
			if err != nil {
				return err
			}
			if _, err := doc.Set(ctx, map[string]any{"v": "new"}); err != nil {
				return err
			}
			after, err := tx.Get(doc)
			if err != nil {
				return err
			}
			if before.Data()["v"] != "old" || after.Data()["v"] != "old" {
				return fmt.Errorf("read-only transaction saw %v then %v, want a stable snapshot", before.Data(), after.Data())
			}
			return nil
		}, firestore.ReadOnly)
		if err != nil {
			t.Fatal(err)
		}

		err = c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			snap, err := tx.Get(doc)
			if err != nil {
				return err
			}
			if snap.Data()["v"] != "old" {
				return fmt.Errorf("at read time %v: v = %v, want old", wr.UpdateTime, snap.Data()["v"])
			}
			return nil
		}, firestore.ReadOnly, firestore.TransactionReadTime(wr.UpdateTime))
		if err != nil {
			t.Fatal(err)
		}

		err = c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			return tx.Set(doc, map[string]any{"v": "written"})
		}, firestore.ReadOnly)
		if err == nil {
			t.Fatal("a read-only transaction wrote")
		}
	})
}

func TestReadAtPastReadTime(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := context.Background()
		doc := c.Collection("history").Doc("d")
		var times []time.Time
		for i := range 3 {
			wr, err := doc.Set(ctx, map[string]any{"i": i})
			if err != nil {
				t.Fatal(err)
			}
			times = append(times, wr.UpdateTime)
		}
		if _, err := doc.Delete(ctx); err != nil {
			t.Fatal(err)
		}
		for i, at := range times {
			snaps, err := c.WithReadOptions(firestore.ReadTime(at)).GetAll(ctx, []*firestore.DocumentRef{doc})
			if err != nil {
				t.Fatal(err)
			}
			if got := snaps[0].Data()["i"]; got != int64(i) {
				t.Errorf("at %v: i = %v, want %d", at, got, i)
			}
		}
		before := times[0].Add(-time.Microsecond)
		snaps, err := c.WithReadOptions(firestore.ReadTime(before)).GetAll(ctx, []*firestore.DocumentRef{doc})
		if err != nil {
			t.Fatal(err)
		}
		if snaps[0].Exists() {
			t.Errorf("document exists before it was created")
		}
		mustNotExist(t, doc)
	})
}

func TestAbandonedTransactionDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	c := newClient(t, false)
	ctx := context.Background()
	doc := c.Collection("stall").Doc("d")
	started := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			if _, err := tx.Get(doc); err != nil && status.Code(err) != codes.NotFound {
				return err
			}
			close(started)
			<-release // hold the lock as a stuck client would
			return errStop
		}, firestore.MaxAttempts(1))
	}()
	<-started
	begin := time.Now()
	if _, err := doc.Set(ctx, map[string]any{"n": 1}); err != nil {
		t.Fatalf("write behind an abandoned transaction: %v", err)
	}
	waited := time.Since(begin)
	close(release)
	if err := <-done; !errors.Is(err, errStop) {
		t.Fatalf("stuck transaction ended with %v", err)
	}
	t.Logf("write waited %v for the abandoned lock", waited)
}
