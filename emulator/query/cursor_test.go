package query

import (
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

func numberedDocs() *fakeSource {
	return newSource(
		doc("c/a", F{"n": iv(1)}),
		doc("c/b", F{"n": iv(2)}),
		doc("c/c", F{"n": iv(2)}),
		doc("c/d", F{"n": iv(3)}),
		doc("c/e", F{"n": iv(4)}),
		doc("c/f", F{"m": iv(2)}),
	)
}

func TestCursors(t *testing.T) {
	byN := []*pb.StructuredQuery_Order{asc("n")}
	byNDesc := []*pb.StructuredQuery_Order{desc("n")}
	byName := []*pb.StructuredQuery_Order{asc("__name__")}
	byNameDesc := []*pb.StructuredQuery_Order{desc("__name__")}
	tests := []struct {
		name       string
		orders     []*pb.StructuredQuery_Order
		start, end *pb.Cursor
		want       []string
	}{
		{"start at includes equal", byN, startAt(iv(2)), nil, []string{"b", "c", "d", "e"}},
		{"start after skips equal", byN, startAfter(iv(2)), nil, []string{"d", "e"}},
		{"end at includes equal", byN, nil, endAt(iv(3)), []string{"a", "b", "c", "d"}},
		{"end before excludes equal", byN, nil, endBefore(iv(3)), []string{"a", "b", "c"}},
		{"start and end", byN, startAt(iv(2)), endAt(iv(3)), []string{"b", "c", "d"}},
		{"position between values", byN, startAt(dv(2.5)), nil, []string{"d", "e"}},
		{"full cursor with name", byN, startAt(iv(2), refv("c/c")), nil, []string{"c", "d", "e"}},
		{"start after full cursor", byN, startAfter(iv(2), refv("c/b")), nil, []string{"c", "d", "e"}},
		{"end before full cursor", byN, nil, endBefore(iv(2), refv("c/c")), []string{"a", "b"}},
		{"cursor of another type", byN, startAt(sv("x")), nil, nil},
		{"cursor of a lower type", byN, nil, endAt(bv(true)), nil},
		{"descending start at", byNDesc, startAt(iv(3)), nil, []string{"d", "c", "b", "a"}},
		{"descending end before with name", byNDesc, nil, endBefore(iv(2), refv("c/b")), []string{"e", "d", "c"}},
		{"empty start at keeps all", byN, startAt(), nil, []string{"a", "b", "c", "d", "e"}},
		{"empty start after skips all", byN, startAfter(), nil, nil},
		{"name start at", byName, startAt(refv("c/c")), nil, []string{"c", "d", "e", "f"}},
		{"name start after", byName, startAfter(refv("c/c")), nil, []string{"d", "e", "f"}},
		{"name start at missing document", byName, startAt(refv("c/bb")), nil, []string{"c", "d", "e", "f"}},
		{"name end before", byName, nil, endBefore(refv("c/c")), []string{"a", "b"}},
		{"name end at", byName, startAfter(refv("c/a")), endAt(refv("c/c")), []string{"b", "c"}},
		{"implicit name order", nil, startAt(refv("c/e")), nil, []string{"e", "f"}},
		{"name descending", byNameDesc, startAt(refv("c/c")), nil, []string{"c", "b", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sq := &pb.StructuredQuery{From: from("c"), OrderBy: tt.orders, StartAt: tt.start, EndAt: tt.end}
			checkIDs(t, runQuery(t, "", sq, numberedDocs()), tt.want...)
		})
	}
}

// TestCursorOnImplicitOrder maps cursor values onto the inequality field that the filter
// added to the ordering.
func TestCursorOnImplicitOrder(t *testing.T) {
	sq := &pb.StructuredQuery{From: from("c"), Where: where("n", opGT, iv(1)), StartAt: startAfter(iv(2))}
	checkIDs(t, runQuery(t, "", sq, numberedDocs()), "d", "e")
}

// TestCollectionGroupCursorsLikeProduction replays a production integration test: in a
// collection group, __name__ cursors may name any document, even one outside the group.
func TestCollectionGroupCursorsLikeProduction(t *testing.T) {
	const cg = "bcg"
	src := func() *fakeSource {
		return newSource(
			doc("a/a/"+cg+"/cg-doc1", nil),
			doc("a/b/a/b/"+cg+"/cg-doc2", nil),
			doc("a/b/"+cg+"/cg-doc3", nil),
			doc("a/b/c/d/"+cg+"/cg-doc4", nil),
			doc("a/c/"+cg+"/cg-doc5", nil),
			doc(cg+"/cg-doc6", nil),
			doc("a/b/nope/nope", nil),
		)
	}
	byName := []*pb.StructuredQuery_Order{asc("__name__")}
	t.Run("start at and end at", func(t *testing.T) {
		sq := &pb.StructuredQuery{From: fromGroup(cg), OrderBy: byName, StartAt: startAt(refv("a/b")), EndAt: endAt(refv("a/b0"))}
		checkIDs(t, runQuery(t, "", sq, src()), "cg-doc2", "cg-doc3", "cg-doc4")
	})
	t.Run("start after and end before", func(t *testing.T) {
		sq := &pb.StructuredQuery{From: fromGroup(cg), OrderBy: byName, StartAt: startAfter(refv("a/b")), EndAt: endBefore(refv("a/b/" + cg + "/cg-doc3"))}
		checkIDs(t, runQuery(t, "", sq, src()), "cg-doc2")
	})
	t.Run("start at a member of the group", func(t *testing.T) {
		sq := &pb.StructuredQuery{From: fromGroup(cg), OrderBy: byName, StartAt: startAt(refv("a/b/" + cg + "/cg-doc3"))}
		checkIDs(t, runQuery(t, "", sq, src()), "cg-doc3", "cg-doc4", "cg-doc5", "cg-doc6")
	})
	t.Run("name filters", func(t *testing.T) {
		sq := &pb.StructuredQuery{From: fromGroup(cg), Where: and(where("__name__", opGTE, refv("a/b")), where("__name__", opLTE, refv("a/b0")))}
		checkIDs(t, runQuery(t, "", sq, src()), "cg-doc2", "cg-doc3", "cg-doc4")
		sq = &pb.StructuredQuery{From: fromGroup(cg), Where: and(where("__name__", opGT, refv("a/b")), where("__name__", opLT, refv("a/b/"+cg+"/cg-doc3")))}
		checkIDs(t, runQuery(t, "", sq, src()), "cg-doc2")
	})
}
