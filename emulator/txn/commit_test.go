package txn

import (
	"context"
	"testing"
	"time"

	"github.com/tally-dev/tally/emulator/storage"
)

func TestCommitIsAtomic(t *testing.T) {
	tests := []struct {
		name     string
		writes   []Write
		wantKind Kind
	}{
		{
			name:     "precondition fails after a good write",
			writes:   []Write{set(1, "c", "a"), {Path: doc("c", "missing"), Fields: fieldsN(2), Exists: boolPtr(true)}},
			wantKind: KindNotFound,
		},
		{
			name:     "update_time precondition fails",
			writes:   []Write{set(1, "c", "a"), {Path: doc("c", "existing"), Delete: true, UpdateTime: 1}},
			wantKind: KindFailedPrecondition,
		},
		{
			name:     "second create of a document created earlier in the commit",
			writes:   []Write{{Path: doc("c", "a"), Fields: fieldsN(1), Exists: boolPtr(false)}, {Path: doc("c", "a"), Fields: fieldsN(2), Exists: boolPtr(false)}},
			wantKind: KindAlreadyExists,
		},
		{
			name: "invalid transform last",
			writes: []Write{set(1, "c", "a"), {Path: doc("c", "existing"), HasMask: true,
				Transforms: []FieldTransform{maximumOf(fp("n"), 100), {Path: fp("s"), Transform: stringIncrement("s")}}}},
			wantKind: KindInvalidArgument,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, Options{})
			before := commit(t, e, set(7, "c", "existing"))
			_, err := e.Commit(context.Background(), testDB, nil, tt.writes)
			wantKind(t, err, tt.wantKind)
			if v := latest(t, e, doc("c", "a")); v != nil {
				t.Errorf("c/a = %+v after a failed commit, want it absent", v)
			}
			v := latest(t, e, doc("c", "existing"))
			if nOf(v) != 7 || v.UpdateTime != before.CommitTime {
				t.Errorf("c/existing = %+v after a failed commit, want n=7 at %d", v, before.CommitTime)
			}
		})
	}
}

func TestCommitAppliesWritesToOneDocumentInOrder(t *testing.T) {
	tests := []struct {
		name   string
		writes []Write
		wantN  int64 // -1: the document ends up absent
	}{
		{
			name:   "set then increment then masked set",
			writes: []Write{set(1, "c", "a"), {Path: doc("c", "a"), HasMask: true, Transforms: []FieldTransform{incrementBy(fp("n"), 2)}}},
			wantN:  3,
		},
		{
			name:   "increment then set",
			writes: []Write{{Path: doc("c", "a"), HasMask: true, Transforms: []FieldTransform{incrementBy(fp("n"), 2)}}, set(10, "c", "a")},
			wantN:  10,
		},
		{
			name:   "set then delete",
			writes: []Write{set(1, "c", "a"), {Path: doc("c", "a"), Delete: true}},
			wantN:  -1,
		},
		{
			name:   "delete then create",
			writes: []Write{{Path: doc("c", "a"), Delete: true}, {Path: doc("c", "a"), Fields: fieldsN(4), Exists: boolPtr(false)}},
			wantN:  4,
		},
		{
			name:   "create then update requiring existence",
			writes: []Write{{Path: doc("c", "a"), Fields: fieldsN(1), Exists: boolPtr(false)}, {Path: doc("c", "a"), Fields: fieldsN(5), Exists: boolPtr(true)}},
			wantN:  5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, Options{})
			res := commit(t, e, tt.writes...)
			if len(res.Results) != len(tt.writes) {
				t.Fatalf("got %d results for %d writes", len(res.Results), len(tt.writes))
			}
			v := latest(t, e, doc("c", "a"))
			if got := nOf(v); got != tt.wantN {
				t.Fatalf("c/a = %+v (n=%d), want n=%d", v, got, tt.wantN)
			}
			if v != nil && v.UpdateTime != res.CommitTime {
				t.Errorf("update time %d, want the commit time %d", v.UpdateTime, res.CommitTime)
			}
		})
	}
}

func TestCommitOfNothingChangedKeepsUpdateTime(t *testing.T) {
	e := newEngine(t, Options{})
	first := commit(t, e, set(1, "c", "a"))
	second := commit(t, e, set(1, "c", "a"), Write{Path: doc("c", "gone"), Delete: true})
	if second.CommitTime <= first.CommitTime {
		t.Errorf("second commit time %d not after first %d", second.CommitTime, first.CommitTime)
	}
	if got := second.Results[0].UpdateTime; got != first.CommitTime {
		t.Errorf("no-op write reported update time %d, want the previous %d", got, first.CommitTime)
	}
	if got := second.Results[1].UpdateTime; got != 0 {
		t.Errorf("delete reported update time %d, want 0", got)
	}
	if v := latest(t, e, doc("c", "a")); v.UpdateTime != first.CommitTime {
		t.Errorf("stored update time %d, want %d", v.UpdateTime, first.CommitTime)
	}
}

func TestBatchWrite(t *testing.T) {
	e := newEngine(t, Options{})
	existing := commit(t, e, set(1, "c", "existing"))
	writes := []Write{
		set(10, "c", "a"),
		{Path: doc("c", "missing"), Fields: fieldsN(2), Exists: boolPtr(true)},
		{Path: doc("c", "existing"), Fields: fieldsN(3), Exists: boolPtr(false)},
		{Path: doc("c", "existing"), Delete: true, UpdateTime: existing.CommitTime + 1},
		set(20, "c", "b"),
		{Path: doc("c", "existing"), HasMask: true, Transforms: []FieldTransform{{Path: fp("s"), Transform: stringIncrement("s")}}},
	}
	wantKinds := []Kind{0, KindNotFound, KindAlreadyExists, KindFailedPrecondition, 0, KindInvalidArgument}
	res, errs, err := e.BatchWrite(context.Background(), testDB, writes)
	if err != nil {
		t.Fatalf("BatchWrite: %v", err)
	}
	if len(errs) != len(writes) || len(res.Results) != len(writes) {
		t.Fatalf("got %d errors and %d results for %d writes", len(errs), len(res.Results), len(writes))
	}
	for i, want := range wantKinds {
		if got := KindOf(errs[i]); got != want || (want == 0) != (errs[i] == nil) {
			t.Errorf("write %d: error %v (kind %d), want kind %d", i, errs[i], got, want)
		}
		if want == 0 && res.Results[i].UpdateTime != res.CommitTime {
			t.Errorf("write %d: update time %d, want the shared commit time %d", i, res.Results[i].UpdateTime, res.CommitTime)
		}
	}
	if res.CommitTime <= existing.CommitTime {
		t.Errorf("commit time %d not after the earlier %d", res.CommitTime, existing.CommitTime)
	}
	for _, tc := range []struct {
		path  []string
		wantN int64
		wantT int64
	}{
		{doc("c", "a"), 10, res.CommitTime},
		{doc("c", "b"), 20, res.CommitTime},
		{doc("c", "existing"), 1, existing.CommitTime},
		{doc("c", "missing"), -1, 0},
	} {
		v := latest(t, e, tc.path)
		if nOf(v) != tc.wantN || (v != nil && v.UpdateTime != tc.wantT) {
			t.Errorf("%q = %+v, want n=%d at %d", tc.path, v, tc.wantN, tc.wantT)
		}
	}
}

func TestCommitTimesIncreaseWhenTheClockGoesBack(t *testing.T) {
	tests := []struct {
		name  string
		steps []time.Duration // clock moves before each commit
	}{
		{"clock stands still", []time.Duration{0, 0, 0}},
		{"clock goes back", []time.Duration{0, -time.Hour, -time.Microsecond}},
		{"sub-microsecond steps", []time.Duration{0, time.Nanosecond, time.Nanosecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			e := newEngine(t, Options{Now: clock.Now})
			var last int64
			for i, d := range tt.steps {
				clock.Advance(d)
				res := commit(t, e, set(int64(i), "c", "a"))
				if res.CommitTime <= last {
					t.Fatalf("commit %d at %d, not after the previous %d", i, res.CommitTime, last)
				}
				last = res.CommitTime
				// A read "now" reserves its time: the next commit must come after it.
				rr, err := e.GetDocuments(context.Background(), testDB, Selector{}, [][]string{doc("c", "a")})
				if err != nil {
					t.Fatalf("GetDocuments: %v", err)
				}
				if rr.ReadTime < last || nOf(rr.Versions[0]) != int64(i) {
					t.Fatalf("read at %d saw %+v, want n=%d at or after %d", rr.ReadTime, rr.Versions[0], i, last)
				}
				last = rr.ReadTime
			}
		})
	}
}

func TestCommitTimesSurviveReopening(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	var (
		e *Engine
		s *storage.Store
	)
	closeAll := func() error {
		if e == nil {
			return nil
		}
		e.Close()
		err := s.Close()
		e, s = nil, nil
		return err
	}
	t.Cleanup(func() { _ = closeAll() })
	open := func() {
		var err error
		if s, err = storage.Open(storage.Options{Dir: dir}); err != nil {
			t.Fatalf("storage.Open: %v", err)
		}
		e = New(Options{Store: s, Now: clock.Now})
	}

	open()
	old := commit(t, e, set(1, "c", "a")).CommitTime
	if err := closeAll(); err != nil {
		t.Fatalf("closing the store: %v", err)
	}
	clock.Advance(-time.Hour)
	open()
	if v := latest(t, e, doc("c", "a")); nOf(v) != 1 || v.UpdateTime != old {
		t.Fatalf("after reopening c/a = %+v, want n=1 at %d", v, old)
	}
	res := commit(t, e, set(2, "c", "a"))
	if res.CommitTime <= old {
		t.Errorf("commit after reopening at %d, not after the earlier %d", res.CommitTime, old)
	}
}
