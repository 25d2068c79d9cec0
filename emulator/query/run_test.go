package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tally-dev/tally/emulator/storage"
)

// plans lists orderings that exercise each execution plan.
var plans = []struct {
	name   string
	orders []*pb.StructuredQuery_Order
	limit  *wrapperspb.Int32Value // sets the top-K plan apart where tests do not set their own
}{
	{"name ascending (streaming)", nil, nil},
	{"name descending", []*pb.StructuredQuery_Order{desc("__name__")}, nil},
	{"field ascending", []*pb.StructuredQuery_Order{asc("n")}, nil},
	{"field descending", []*pb.StructuredQuery_Order{desc("n")}, nil},
	{"field with a limit (top-K)", []*pb.StructuredQuery_Order{asc("n")}, limit(1000)},
}

func TestOffsetAndLimit(t *testing.T) {
	for _, plan := range plans {
		t.Run(plan.name, func(t *testing.T) {
			all := ids(runQuery(t, "", &pb.StructuredQuery{From: from("c"), OrderBy: plan.orders}, numberedDocs()))
			if len(all) == 0 {
				t.Fatal("the unlimited query returned nothing")
			}
			for offset := int32(0); offset <= int32(len(all))+1; offset++ {
				for lim := int32(-1); lim <= int32(len(all))+1; lim++ {
					sq := &pb.StructuredQuery{From: from("c"), OrderBy: plan.orders, Offset: offset}
					want := all[min(int(offset), len(all)):]
					if lim >= 0 {
						sq.Limit = limit(lim)
						want = want[:min(int(lim), len(want))]
					}
					if got := ids(runQuery(t, "", sq, numberedDocs())); !slices.Equal(got, want) {
						t.Errorf("offset %d limit %d: got %q, want %q", offset, lim, got, want)
					}
				}
			}
		})
	}
}

// TestPlansAgree runs filtered queries with cursors under every plan and checks each limited
// run against the unlimited one.
func TestPlansAgree(t *testing.T) {
	var docs []*storage.Version
	for i := range 200 {
		f := F{"n": iv(int64(i * 7 % 13)), "k": iv(int64(i % 3))}
		if i%11 == 0 {
			delete(f, "n")
		}
		docs = append(docs, doc(fmt.Sprintf("c/d%03d", i), f))
	}
	for _, plan := range plans {
		t.Run(plan.name, func(t *testing.T) {
			base := &pb.StructuredQuery{From: from("c"), Where: where("k", opNE, iv(1)), OrderBy: plan.orders}
			all := ids(runQuery(t, "", base, newSource(docs...)))
			for _, lim := range []int32{1, 5, 50, 500} {
				sq := proto.Clone(base).(*pb.StructuredQuery)
				sq.Offset, sq.Limit = 3, limit(lim)
				want := all[3:min(3+int(lim), len(all))]
				if got := ids(runQuery(t, "", sq, newSource(docs...))); !slices.Equal(got, want) {
					t.Errorf("limit %d: got %d documents %q..., want %d", lim, len(got), got[:min(3, len(got))], len(want))
				}
			}
		})
	}
}

func TestCollectionGroups(t *testing.T) {
	const cg = "bcg"
	src := func() *fakeSource {
		return newSource(
			doc("abc/123/"+cg+"/cg-doc1", F{"x": iv(1)}),
			doc("abc/123/"+cg+"/cg-doc2", F{"x": iv(1)}),
			doc(cg+"/cg-doc3", F{"x": iv(1)}),
			doc(cg+"/cg-doc4", F{"x": iv(1)}),
			doc("def/456/"+cg+"/cg-doc5", F{"x": iv(1)}),
			doc(cg+"/virtual-doc/nested-coll/not-cg-doc", F{"x": iv(1)}),
			doc("x"+cg+"/not-cg-doc", F{"x": iv(1)}),
			doc(cg+"x/not-cg-doc", F{"x": iv(1)}),
			doc("abc/123/"+cg+"x/not-cg-doc", F{"x": iv(1)}),
			doc("abc/123/x"+cg+"/not-cg-doc", F{"x": iv(1)}),
			doc("abc/"+cg, F{"x": iv(1)}),
		)
	}
	tests := []struct {
		name   string
		parent string
		sq     *pb.StructuredQuery
		want   []string
	}{
		{"whole database", "", &pb.StructuredQuery{From: fromGroup(cg)}, []string{"cg-doc1", "cg-doc2", "cg-doc3", "cg-doc4", "cg-doc5"}},
		{"below a document", "abc/123", &pb.StructuredQuery{From: fromGroup(cg)}, []string{"cg-doc1", "cg-doc2"}},
		{"descending by name", "", &pb.StructuredQuery{From: fromGroup(cg), OrderBy: []*pb.StructuredQuery_Order{desc("__name__")}}, []string{"cg-doc5", "cg-doc4", "cg-doc3", "cg-doc2", "cg-doc1"}},
		{"with a limit", "", &pb.StructuredQuery{From: fromGroup(cg), Limit: limit(2)}, []string{"cg-doc1", "cg-doc2"}},
		{"collection below a document", "abc/123", &pb.StructuredQuery{From: from(cg)}, []string{"cg-doc1", "cg-doc2"}},
		{"root collection", "", &pb.StructuredQuery{From: from(cg)}, []string{"cg-doc3", "cg-doc4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkIDs(t, runQuery(t, tt.parent, tt.sq, src()), tt.want...)
		})
	}
}

func TestSelect(t *testing.T) {
	source := func() *fakeSource {
		return newSource(doc("c/a", F{"a": iv(1), "b": mapv(F{"c": iv(2), "d": iv(3)}), "e": iv(4)}))
	}
	tests := []struct {
		name   string
		sel    *pb.StructuredQuery_Projection
		orders []*pb.StructuredQuery_Order
		want   F
	}{
		{"fields and nested fields", selectFields("a", "b.c", "missing"), nil, F{"a": iv(1), "b": mapv(F{"c": iv(2)})}},
		{"name only", selectFields("__name__"), nil, F{}},
		{"name and a field", selectFields("__name__", "e"), nil, F{"e": iv(4)}},
		{"empty projection", &pb.StructuredQuery_Projection{}, nil, F{}},
		{"while sorting", selectFields("a"), []*pb.StructuredQuery_Order{asc("e")}, F{"a": iv(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := source()
			before := proto.Clone(mapv(src.docs[0].Fields))
			got := runQuery(t, "", &pb.StructuredQuery{From: from("c"), Select: tt.sel, OrderBy: tt.orders}, src)
			if len(got) != 1 {
				t.Fatalf("got %d documents, want 1", len(got))
			}
			if !proto.Equal(mapv(got[0].Fields), mapv(tt.want)) {
				t.Errorf("fields %v, want %v", got[0].Fields, tt.want)
			}
			if got[0].UpdateTime != 2 || !slices.Equal(got[0].Path, []string{"c", "a"}) {
				t.Errorf("projection lost the document's name or times: %+v", got[0])
			}
			got[0].Fields["a"] = iv(99) // the emitted copy is the caller's to change
			if !proto.Equal(mapv(src.docs[0].Fields), before) {
				t.Errorf("the source's document changed to %v", src.docs[0].Fields)
			}
		})
	}
}

// TestStreamingReadsOnlyWhatItEmits checks that name-ordered queries stop reading the Source
// as soon as the limit or end cursor is reached.
func TestStreamingReadsOnlyWhatItEmits(t *testing.T) {
	src := bigSource(100_000)
	tests := []struct {
		name      string
		sq        *pb.StructuredQuery
		wantFirst string
		maxReads  int
	}{
		{"limit", &pb.StructuredQuery{Limit: limit(10)}, "d000000", 10},
		{"offset and limit", &pb.StructuredQuery{Offset: 5, Limit: limit(10)}, "d000005", 15},
		{"start cursor seeks", &pb.StructuredQuery{StartAt: startAfter(refv("c/d050000")), Limit: limit(10)}, "d050001", 10},
		{"start at reads the cursor's document directly", &pb.StructuredQuery{StartAt: startAt(refv("c/d050000")), Limit: limit(10)}, "d050000", 9},
		{"end cursor stops the scan", &pb.StructuredQuery{EndAt: endBefore(refv("c/d000010"))}, "d000000", 11},
		{"name first, then a field", &pb.StructuredQuery{OrderBy: []*pb.StructuredQuery_Order{asc("__name__"), asc("n")}, StartAt: startAfter(refv("c/d000100"), iv(0)), Limit: limit(10)}, "d000100", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src.reads = 0
			tt.sq.From = from("c")
			got := runQuery(t, "", tt.sq, src)
			if len(got) != 10 || got[0].Path[1] != tt.wantFirst {
				t.Fatalf("got %d documents starting at %q, want 10 starting at %s", len(got), ids(got[:min(1, len(got))]), tt.wantFirst)
			}
			if src.reads > tt.maxReads {
				t.Errorf("read %d documents from the source, want at most %d", src.reads, tt.maxReads)
			}
		})
	}
}

func bigSource(n int) *fakeSource {
	docs := make([]*storage.Version, n)
	for i := range docs {
		docs[i] = doc(fmt.Sprintf("c/d%06d", i), F{"n": iv(int64(i % 1000))})
	}
	return newSource(docs...)
}

// TestNameScanMemoryIsBounded shows that an unlimited name-ordered scan allocates the same
// whatever the number of documents: nothing is buffered per document.
func TestNameScanMemoryIsBounded(t *testing.T) {
	q, err := Compile(testDB, nil, &pb.StructuredQuery{From: from("c"), Where: or(where("n", opIn, arrv(iv(1), iv(2))), where("n", opEQ, iv(700)))})
	if err != nil {
		t.Fatal(err)
	}
	allocs := func(n int) float64 {
		src := bigSource(n)
		return testing.AllocsPerRun(5, func() {
			if err := q.Run(context.Background(), src, func(*storage.Version) error { return nil }); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(1_000), allocs(50_000)
	if large > small+2 {
		t.Errorf("scanning 50,000 documents made %v allocations, 1,000 made %v: the scan buffers per document", large, small)
	}
}

// TestSortedPlanRefetches checks that an unlimited field-ordered query holds only keys and
// fetches each emitted document again.
func TestSortedPlanRefetches(t *testing.T) {
	src := numberedDocs()
	got := runQuery(t, "", &pb.StructuredQuery{From: from("c"), OrderBy: []*pb.StructuredQuery_Order{asc("n")}, Offset: 1}, src)
	checkIDs(t, got, "b", "c", "d", "e")
	if src.gets != len(got) {
		t.Errorf("fetched %d documents, want one fetch per emitted document (%d)", src.gets, len(got))
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	for _, plan := range plans {
		t.Run(plan.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			src := bigSource(10_000)
			src.onRead = func(n int) {
				if n == 100 {
					cancel()
				}
			}
			q, err := Compile(testDB, nil, &pb.StructuredQuery{From: from("c"), OrderBy: plan.orders, Limit: plan.limit})
			if err != nil {
				t.Fatal(err)
			}
			err = q.Run(ctx, src, func(*storage.Version) error { return nil })
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v, want context.Canceled", err)
			}
			if src.reads > 101 {
				t.Errorf("read %d documents after cancelling at 100", src.reads)
			}
		})
	}
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		src := numberedDocs()
		q, err := Compile(testDB, nil, &pb.StructuredQuery{From: from("c")})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Run(ctx, src, func(*storage.Version) error { return nil }); !errors.Is(err, context.Canceled) || src.reads != 0 {
			t.Errorf("Run returned %v after %d reads, want context.Canceled before reading", err, src.reads)
		}
	})
}

func TestRunReturnsErrors(t *testing.T) {
	errEmit := errors.New("emit failed")
	for _, plan := range plans {
		t.Run(plan.name, func(t *testing.T) {
			q, err := Compile(testDB, nil, &pb.StructuredQuery{From: from("c"), OrderBy: plan.orders, Limit: plan.limit})
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			err = q.Run(context.Background(), numberedDocs(), func(*storage.Version) error {
				calls++
				if calls == 2 {
					return errEmit
				}
				return nil
			})
			if !errors.Is(err, errEmit) || calls != 2 {
				t.Errorf("Run returned %v after %d emits, want the emit error after 2", err, calls)
			}

			src := numberedDocs()
			src.failAfter = 2
			if err := q.Run(context.Background(), src, func(*storage.Version) error { return nil }); !errors.Is(err, errSource) {
				t.Errorf("Run returned %v, want the source's error", err)
			}
		})
	}
	t.Run("get error", func(t *testing.T) {
		src := numberedDocs()
		src.getErr = errSource
		q, err := Compile(testDB, nil, &pb.StructuredQuery{From: from("c"), OrderBy: []*pb.StructuredQuery_Order{asc("n")}})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Run(context.Background(), src, func(*storage.Version) error { return nil }); !errors.Is(err, errSource) {
			t.Errorf("Run returned %v, want the source's Get error", err)
		}
	})
}

// TestQueryIsImmutable checks that changing the request after Compile changes nothing.
func TestQueryIsImmutable(t *testing.T) {
	sq := &pb.StructuredQuery{From: from("c"), Where: where("n", opEQ, iv(2)), OrderBy: []*pb.StructuredQuery_Order{asc("n")}, StartAt: startAt(iv(2))}
	q, err := Compile(testDB, nil, sq)
	if err != nil {
		t.Fatal(err)
	}
	sq.Where.GetFieldFilter().Value = iv(3)
	sq.StartAt.Values[0] = iv(9)
	var got []*storage.Version
	if err := q.Run(context.Background(), numberedDocs(), func(v *storage.Version) error { got = append(got, v); return nil }); err != nil {
		t.Fatal(err)
	}
	checkIDs(t, got, "b", "c")
}
