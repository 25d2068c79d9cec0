package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ids runs q and returns the ids of its results in order.
func ids(t *testing.T, q firestore.Query) []string {
	t.Helper()
	docs, err := q.Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	out := []string{}
	for _, d := range docs {
		out = append(out, d.Ref.ID)
	}
	return out
}

func setAll(t *testing.T, c *firestore.Client, col *firestore.CollectionRef, docs map[string]map[string]any) {
	t.Helper()
	b := c.BulkWriter(context.Background())
	var jobs []*firestore.BulkWriterJob
	for id, data := range docs {
		j, err := b.Set(col.Doc(id), data)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	b.End()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestQueryFilters(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		col := c.Collection("cities")
		setAll(t, c, col, map[string]map[string]any{
			"sf":  {"name": "San Francisco", "state": "CA", "pop": 860000, "tags": []any{"west", "coast"}, "capital": false},
			"la":  {"name": "Los Angeles", "state": "CA", "pop": 3900000, "tags": []any{"west"}, "capital": false},
			"dc":  {"name": "Washington", "state": nil, "pop": 680000, "tags": []any{"east"}, "capital": true},
			"tok": {"name": "Tokyo", "pop": 9000000.5, "tags": []any{}, "capital": true},
			"nan": {"name": "Nowhere", "pop": math.NaN(), "state": "XX"},
			"str": {"name": "Stringtown", "pop": "many"},
		})
		tests := []struct {
			name string
			q    firestore.Query
			want []string
		}{
			{"==", col.Where("state", "==", "CA"), []string{"la", "sf"}},
			{"!= excludes missing and null", col.Where("state", "!=", "CA"), []string{"nan"}},
			{"< includes NaN, which sorts before numbers", col.Where("pop", "<", 900000), []string{"dc", "nan", "sf"}},
			{"<= mixes int and double", col.Where("pop", "<=", 9000000.5), []string{"dc", "nan", "sf", "la", "tok"}},
			{"> only matches numbers", col.Where("pop", ">", 1000000), []string{"la", "tok"}},
			{">=", col.Where("pop", ">=", 3900000), []string{"la", "tok"}},
			{"array-contains", col.Where("tags", "array-contains", "west"), []string{"la", "sf"}},
			{"array-contains-any", col.Where("tags", "array-contains-any", []any{"coast", "east"}), []string{"dc", "sf"}},
			{"in", col.Where("name", "in", []any{"Tokyo", "Washington", "Paris"}), []string{"dc", "tok"}},
			{"not-in excludes null", col.Where("state", "not-in", []any{"CA"}), []string{"nan"}},
			{"is null", col.Where("state", "==", nil), []string{"dc"}},
			{"is nan", col.Where("pop", "==", math.NaN()), []string{"nan"}},
			{"is not null", col.Where("state", "!=", nil), []string{"la", "nan", "sf"}},
			{"is not nan", col.Where("pop", "!=", math.NaN()), []string{"dc", "la", "sf", "str", "tok"}},
			{"and", col.WhereEntity(firestore.AndFilter{Filters: []firestore.EntityFilter{
				firestore.PropertyFilter{Path: "state", Operator: "==", Value: "CA"},
				firestore.PropertyFilter{Path: "pop", Operator: ">", Value: 1000000},
			}}), []string{"la"}},
			{"or", col.WhereEntity(firestore.OrFilter{Filters: []firestore.EntityFilter{
				firestore.PropertyFilter{Path: "capital", Operator: "==", Value: true},
				firestore.PropertyFilter{Path: "state", Operator: "==", Value: "XX"},
			}}), []string{"dc", "nan", "tok"}},
			{"nested or inside and", col.WhereEntity(firestore.AndFilter{Filters: []firestore.EntityFilter{
				firestore.PropertyFilter{Path: "pop", Operator: "<", Value: 5000000},
				firestore.OrFilter{Filters: []firestore.EntityFilter{
					firestore.PropertyFilter{Path: "state", Operator: "==", Value: "CA"},
					firestore.PropertyFilter{Path: "capital", Operator: "==", Value: true},
				}},
			}}), []string{"dc", "sf", "la"}},
			{"name filter", col.Where(firestore.DocumentID, ">=", col.Doc("s")), []string{"sf", "str", "tok"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := ids(t, tt.q)
				if !sameSet(got, tt.want) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			})
		}
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestQueryOrderingAcrossTypes(t *testing.T) {
	t.Parallel()
	c := newClient(t, false)
	col := c.Collection("mixed")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	setAll(t, c, col, map[string]map[string]any{
		"map": {"v": map[string]any{"a": 1}}, "arr": {"v": []any{1}}, "geo": {"v": map[string]any{"x": 0}},
		"ref": {"v": col.Doc("x")}, "bytes": {"v": []byte("b")}, "str": {"v": "s"}, "ts": {"v": at},
		"int": {"v": 2}, "dbl": {"v": 1.5}, "nan": {"v": math.NaN()}, "bool": {"v": true}, "null": {"v": nil},
		"none": {"other": 1},
	})
	// geo here is a map, sorting with maps by content ({"a"} < {"x"}).
	want := []string{"null", "bool", "nan", "dbl", "int", "ts", "str", "bytes", "ref", "arr", "map", "geo"}
	if got := ids(t, col.OrderBy("v", firestore.Asc)); !slices.Equal(got, want) {
		t.Fatalf("ascending: got %v, want %v", got, want)
	}
	slices.Reverse(want)
	if got := ids(t, col.OrderBy("v", firestore.Desc)); !slices.Equal(got, want) {
		t.Fatalf("descending: got %v, want %v", got, want)
	}
}

func TestQueryCursorsOffsetLimitProjection(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := context.Background()
		col := c.Collection("scores")
		docs := map[string]map[string]any{}
		for i := range 10 {
			docs[fmt.Sprintf("p%d", i)] = map[string]any{"score": i % 5, "name": fmt.Sprintf("player %d", i), "secret": "x"}
		}
		setAll(t, c, col, docs)
		byScore := col.OrderBy("score", firestore.Asc)

		if got, want := ids(t, byScore.StartAt(3)), []string{"p3", "p8", "p4", "p9"}; !slices.Equal(got, want) {
			t.Errorf("StartAt(3): got %v, want %v", got, want)
		}
		if got, want := ids(t, byScore.StartAfter(3)), []string{"p4", "p9"}; !slices.Equal(got, want) {
			t.Errorf("StartAfter(3): got %v, want %v", got, want)
		}
		if got, want := ids(t, byScore.EndBefore(1)), []string{"p0", "p5"}; !slices.Equal(got, want) {
			t.Errorf("EndBefore(1): got %v, want %v", got, want)
		}
		if got, want := ids(t, byScore.EndAt(1)), []string{"p0", "p5", "p1", "p6"}; !slices.Equal(got, want) {
			t.Errorf("EndAt(1): got %v, want %v", got, want)
		}
		snap := mustGet(t, col.Doc("p6"))
		if got, want := ids(t, byScore.StartAfter(snap)), []string{"p2", "p7", "p3", "p8", "p4", "p9"}; !slices.Equal(got, want) {
			t.Errorf("StartAfter(snapshot p6): got %v, want %v", got, want)
		}
		if got, want := ids(t, byScore.Offset(3).Limit(4)), []string{"p6", "p2", "p7", "p3"}; !slices.Equal(got, want) {
			t.Errorf("Offset(3).Limit(4): got %v, want %v", got, want)
		}
		if got, want := ids(t, byScore.LimitToLast(3)), []string{"p8", "p4", "p9"}; !slices.Equal(got, want) {
			t.Errorf("LimitToLast(3): got %v, want %v", got, want)
		}
		got, err := col.Select("name").Where("score", "==", 4).Documents(ctx).GetAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !reflect.DeepEqual(got[0].Data(), map[string]any{"name": "player 4"}) {
			t.Errorf("projection: got %d docs, first %v", len(got), got[0].Data())
		}
		refsOnly, err := col.Select().Limit(1).Documents(ctx).GetAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(refsOnly) != 1 || len(refsOnly[0].Data()) != 0 {
			t.Errorf("empty projection returned fields %v", refsOnly[0].Data())
		}
	})
}

func TestCollectionGroupQuery(t *testing.T) {
	t.Parallel()
	c := newClient(t, false)
	ctx := context.Background()
	for _, path := range []string{"a/1/msgs/m1", "a/2/msgs/m2", "b/1/x/y/msgs/m3", "msgs/m0", "a/1/other/o1"} {
		if _, err := c.Doc(path).Set(ctx, map[string]any{"ok": true}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.CollectionGroup("msgs").Where("ok", "==", true).Documents(ctx).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, d := range got {
		paths = append(paths, d.Ref.Path[len("projects/test-project/databases/(default)/documents/"):])
	}
	want := []string{"a/1/msgs/m1", "a/2/msgs/m2", "b/1/x/y/msgs/m3", "msgs/m0"}
	if !slices.Equal(paths, want) {
		t.Fatalf("got %v, want %v", paths, want)
	}
}

func TestAggregations(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := context.Background()
		col := c.Collection("shards")
		setAll(t, c, col, map[string]map[string]any{
			"0": {"n": 5}, "1": {"n": 7}, "2": {"n": "text"}, "3": {"other": 1},
		})
		res, err := col.NewAggregationQuery().WithCount("count").WithSum("n", "sum").WithAvg("n", "avg").Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res["count"].(*pb.Value).GetIntegerValue() != 4 {
			t.Errorf("count = %v, want 4", res["count"])
		}
		if res["sum"].(*pb.Value).GetIntegerValue() != 12 {
			t.Errorf("sum = %v, want integer 12", res["sum"])
		}
		if res["avg"].(*pb.Value).GetDoubleValue() != 6 {
			t.Errorf("avg = %v, want 6.0", res["avg"])
		}

		big := c.Collection("big")
		setAll(t, c, big, map[string]map[string]any{"a": {"n": int64(math.MaxInt64)}, "b": {"n": 10}})
		res, err = big.NewAggregationQuery().WithSum("n", "sum").Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := res["sum"].(*pb.Value).GetValueType().(*pb.Value_DoubleValue); !ok || d.DoubleValue != float64(math.MaxInt64)+10 {
			t.Errorf("overflowing sum = %v, want the double %v", res["sum"], float64(math.MaxInt64)+10)
		}

		empty, err := c.Collection("nothing").NewAggregationQuery().WithSum("n", "s").WithAvg("n", "a").WithCount("c").Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if empty["s"].(*pb.Value).GetIntegerValue() != 0 || empty["c"].(*pb.Value).GetIntegerValue() != 0 {
			t.Errorf("empty sum/count = %v/%v", empty["s"], empty["c"])
		}
		if _, isNull := empty["a"].(*pb.Value).GetValueType().(*pb.Value_NullValue); !isNull {
			t.Errorf("avg of nothing = %v, want null", empty["a"])
		}
	})
}

func TestListDocumentsAndCollections(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := context.Background()
		for _, path := range []string{"top/a", "top/b", "top/ghost/sub/x", "other/z", "top/a/child/c"} {
			if _, err := c.Doc(path).Set(ctx, map[string]any{"p": path}); err != nil {
				t.Fatal(err)
			}
		}
		var refs []string
		it := c.Collection("top").DocumentRefs(ctx)
		for {
			ref, err := it.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, ref.ID)
		}
		if want := []string{"a", "b", "ghost"}; !slices.Equal(refs, want) {
			t.Errorf("DocumentRefs (with missing): got %v, want %v", refs, want)
		}
		var colls []string
		cit := c.Collections(ctx)
		for {
			col, err := cit.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			colls = append(colls, col.ID)
		}
		if want := []string{"other", "top"}; !slices.Equal(colls, want) {
			t.Errorf("Collections: got %v, want %v", colls, want)
		}
		sub, err := c.Doc("top/a").Collections(ctx).GetAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(sub) != 1 || sub[0].ID != "child" {
			t.Errorf("subcollections of top/a: %v", sub)
		}
	})
}

func TestQueryAtPastReadTime(t *testing.T) {
	t.Parallel()
	c := newClient(t, true)
	ctx := context.Background()
	col := c.Collection("versions")
	first, err := col.Doc("d").Set(ctx, map[string]any{"v": 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := col.Doc("d").Set(ctx, map[string]any{"v": 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := col.Doc("e").Set(ctx, map[string]any{"v": 3}); err != nil {
		t.Fatal(err)
	}
	past := col.WithReadOptions(firestore.ReadTime(first.UpdateTime))
	docs, err := past.Documents(ctx).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || docs[0].Data()["v"] != int64(1) {
		t.Fatalf("at the first write: got %d docs, first %v", len(docs), docs[0].Data())
	}
}

func TestTransactionAbortedByPhantom(t *testing.T) {
	t.Parallel()
	c := newClient(t, false)
	ctx := context.Background()
	col := c.Collection("seats")
	if _, err := col.Doc("a").Set(ctx, map[string]any{"taken": true}); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	err := c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		attempts++
		docs, err := tx.Documents(col.Where("taken", "==", true)).GetAll()
		if err != nil {
			return err
		}
		if attempts == 1 {
			// A new matching document appears after the query ran: a phantom.
			if _, err := col.Doc("b").Set(ctx, map[string]any{"taken": true}); err != nil {
				return err
			}
		}
		return tx.Set(c.Doc("summary/seats"), map[string]any{"taken": len(docs)})
	}, firestore.MaxAttempts(3))
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Fatalf("%d attempts, want 2: the phantom must abort the first", attempts)
	}
	if got := mustGet(t, c.Doc("summary/seats")).Data()["taken"]; got != int64(2) {
		t.Fatalf("taken = %v, want 2", got)
	}
}

// TestBadQueries sends malformed queries over the raw API (the official client rejects some of
// them itself) and expects INVALID_ARGUMENT with a message naming the problem.
func TestBadQueries(t *testing.T) {
	t.Parallel()
	em := startEmulator(t)
	conn, err := grpc.NewClient(em.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewFirestoreClient(conn)
	from := []*pb.StructuredQuery_CollectionSelector{{CollectionId: "q"}}
	field := func(p string) *pb.StructuredQuery_FieldReference {
		return &pb.StructuredQuery_FieldReference{FieldPath: p}
	}
	intv := func(i int64) *pb.Value { return &pb.Value{ValueType: &pb.Value_IntegerValue{IntegerValue: i}} }
	fieldFilter := func(path string, op pb.StructuredQuery_FieldFilter_Operator, v *pb.Value) *pb.StructuredQuery_Filter {
		return &pb.StructuredQuery_Filter{FilterType: &pb.StructuredQuery_Filter_FieldFilter{FieldFilter: &pb.StructuredQuery_FieldFilter{Field: field(path), Op: op, Value: v}}}
	}
	tests := []struct {
		name    string
		q       *pb.StructuredQuery
		mention string
	}{
		{"negative limit", &pb.StructuredQuery{From: from, Limit: wrapperspb.Int32(-1)}, "limit"},
		{"negative offset", &pb.StructuredQuery{From: from, Offset: -2}, "offset"},
		{"cursor longer than ordering", &pb.StructuredQuery{From: from,
			OrderBy: []*pb.StructuredQuery_Order{{Field: field("a"), Direction: pb.StructuredQuery_ASCENDING}},
			StartAt: &pb.Cursor{Values: []*pb.Value{intv(1), intv(2), intv(3)}}}, "start_at"},
		{"unknown operator", &pb.StructuredQuery{From: from, Where: fieldFilter("a", pb.StructuredQuery_FieldFilter_Operator(99), intv(1))}, "operator"},
		{"invalid field path", &pb.StructuredQuery{From: from, Where: fieldFilter("a..b", pb.StructuredQuery_FieldFilter_EQUAL, intv(1))}, "a..b"},
		{"in without an array", &pb.StructuredQuery{From: from, Where: fieldFilter("a", pb.StructuredQuery_FieldFilter_IN, intv(1))}, "array"},
		{"no collection", &pb.StructuredQuery{}, "from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, err := client.RunQuery(context.Background(), &pb.RunQueryRequest{
				Parent:    "projects/p/databases/(default)/documents",
				QueryType: &pb.RunQueryRequest_StructuredQuery{StructuredQuery: tt.q},
			})
			if err == nil {
				_, err = stream.Recv()
			}
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v, want InvalidArgument", err)
			}
			if msg := status.Convert(err).Message(); !strings.Contains(strings.ToLower(msg), strings.ToLower(tt.mention)) {
				t.Fatalf("message %q does not mention %q", msg, tt.mention)
			}
		})
	}
}
