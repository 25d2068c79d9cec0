package query

import (
	"context"
	"errors"
	"iter"
	"math"
	"slices"
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/genproto/googleapis/type/latlng"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
)

var testDB = resource.Database{Project: "p", Database: "d"}

// fakeSource is an in-memory Source over a sorted slice of documents. It counts what it hands
// out so tests can check how much a query read.
type fakeSource struct {
	docs   []*storage.Version
	byPath map[string]*storage.Version
	reads  int // documents yielded by Documents
	gets   int // calls to Get
	// onRead, when set, runs before each document is yielded.
	onRead func(n int)
	// failAfter, when positive, makes Documents yield errSource after that many documents.
	failAfter int
	getErr    error
}

var errSource = errors.New("source failed")

var _ Source = (*fakeSource)(nil)

func newSource(docs ...*storage.Version) *fakeSource {
	s := &fakeSource{docs: slices.Clone(docs), byPath: make(map[string]*storage.Version)}
	slices.SortFunc(s.docs, func(a, b *storage.Version) int { return slices.Compare(a.Path, b.Path) })
	for _, d := range s.docs {
		s.byPath[strings.Join(d.Path, "/")] = d
	}
	return s
}

func (s *fakeSource) Documents(parent []string, collectionID string, allDescendants bool, after []string) iter.Seq2[*storage.Version, error] {
	return func(yield func(*storage.Version, error) bool) {
		start := 0
		if after != nil {
			start, _ = slices.BinarySearchFunc(s.docs, after, func(d *storage.Version, p []string) int { return slices.Compare(d.Path, p) })
		}
		for _, d := range s.docs[start:] {
			if !inCollection(d.Path, parent, collectionID, allDescendants) || (after != nil && slices.Compare(d.Path, after) <= 0) {
				continue
			}
			if s.failAfter > 0 && s.reads == s.failAfter {
				yield(nil, errSource)
				return
			}
			s.reads++
			if s.onRead != nil {
				s.onRead(s.reads)
			}
			if !yield(d, nil) {
				return
			}
		}
	}
}

func inCollection(path, parent []string, collectionID string, allDescendants bool) bool {
	kindless := collectionID == "" && allDescendants
	if len(path) <= len(parent) || !slices.Equal(path[:len(parent)], parent) || (!kindless && path[len(path)-2] != collectionID) {
		return false
	}
	return allDescendants || len(path) == len(parent)+2
}

func (s *fakeSource) Get(path []string) (*storage.Version, error) {
	s.gets++
	if s.getErr != nil {
		return nil, s.getErr
	}
	return s.byPath[strings.Join(path, "/")], nil
}

// F is a document's fields.
type F = map[string]*pb.Value

func doc(path string, fields F) *storage.Version {
	if fields == nil {
		fields = F{}
	}
	return &storage.Version{Path: strings.Split(path, "/"), CreateTime: 1, UpdateTime: 2, Fields: fields}
}

func iv(i int64) *pb.Value   { return &pb.Value{ValueType: &pb.Value_IntegerValue{IntegerValue: i}} }
func dv(f float64) *pb.Value { return &pb.Value{ValueType: &pb.Value_DoubleValue{DoubleValue: f}} }
func sv(s string) *pb.Value  { return &pb.Value{ValueType: &pb.Value_StringValue{StringValue: s}} }
func bv(b bool) *pb.Value    { return &pb.Value{ValueType: &pb.Value_BooleanValue{BooleanValue: b}} }
func nanv() *pb.Value        { return dv(math.NaN()) }
func nullv() *pb.Value {
	return &pb.Value{ValueType: &pb.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}
}
func bytesv(b string) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_BytesValue{BytesValue: []byte(b)}}
}
func tsv(sec int64) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_TimestampValue{TimestampValue: &timestamppb.Timestamp{Seconds: sec}}}
}
func geov(lat, lng float64) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_GeoPointValue{GeoPointValue: &latlng.LatLng{Latitude: lat, Longitude: lng}}}
}
func arrv(vs ...*pb.Value) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_ArrayValue{ArrayValue: &pb.ArrayValue{Values: vs}}}
}
func mapv(f F) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_MapValue{MapValue: &pb.MapValue{Fields: f}}}
}

// refv is a reference to the document at the slash-separated path in testDB.
func refv(path string) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_ReferenceValue{ReferenceValue: testDB.DocumentName(strings.Split(path, "/"))}}
}

func fref(path string) *pb.StructuredQuery_FieldReference {
	return &pb.StructuredQuery_FieldReference{FieldPath: path}
}

// Field filter operators, abbreviated.
const (
	opLT    = pb.StructuredQuery_FieldFilter_LESS_THAN
	opLTE   = pb.StructuredQuery_FieldFilter_LESS_THAN_OR_EQUAL
	opGT    = pb.StructuredQuery_FieldFilter_GREATER_THAN
	opGTE   = pb.StructuredQuery_FieldFilter_GREATER_THAN_OR_EQUAL
	opEQ    = pb.StructuredQuery_FieldFilter_EQUAL
	opNE    = pb.StructuredQuery_FieldFilter_NOT_EQUAL
	opAC    = pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS
	opIn    = pb.StructuredQuery_FieldFilter_IN
	opACA   = pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS_ANY
	opNotIn = pb.StructuredQuery_FieldFilter_NOT_IN

	isNull    = pb.StructuredQuery_UnaryFilter_IS_NULL
	isNaN     = pb.StructuredQuery_UnaryFilter_IS_NAN
	isNotNull = pb.StructuredQuery_UnaryFilter_IS_NOT_NULL
	isNotNaN  = pb.StructuredQuery_UnaryFilter_IS_NOT_NAN
)

func where(path string, op pb.StructuredQuery_FieldFilter_Operator, v *pb.Value) *pb.StructuredQuery_Filter {
	return &pb.StructuredQuery_Filter{FilterType: &pb.StructuredQuery_Filter_FieldFilter{FieldFilter: &pb.StructuredQuery_FieldFilter{Field: fref(path), Op: op, Value: v}}}
}

func unary(path string, op pb.StructuredQuery_UnaryFilter_Operator) *pb.StructuredQuery_Filter {
	return &pb.StructuredQuery_Filter{FilterType: &pb.StructuredQuery_Filter_UnaryFilter{UnaryFilter: &pb.StructuredQuery_UnaryFilter{Op: op, OperandType: &pb.StructuredQuery_UnaryFilter_Field{Field: fref(path)}}}}
}

func composite(op pb.StructuredQuery_CompositeFilter_Operator, fs ...*pb.StructuredQuery_Filter) *pb.StructuredQuery_Filter {
	return &pb.StructuredQuery_Filter{FilterType: &pb.StructuredQuery_Filter_CompositeFilter{CompositeFilter: &pb.StructuredQuery_CompositeFilter{Op: op, Filters: fs}}}
}

func and(fs ...*pb.StructuredQuery_Filter) *pb.StructuredQuery_Filter {
	return composite(pb.StructuredQuery_CompositeFilter_AND, fs...)
}

func or(fs ...*pb.StructuredQuery_Filter) *pb.StructuredQuery_Filter {
	return composite(pb.StructuredQuery_CompositeFilter_OR, fs...)
}

func asc(path string) *pb.StructuredQuery_Order {
	return &pb.StructuredQuery_Order{Field: fref(path), Direction: pb.StructuredQuery_ASCENDING}
}

func desc(path string) *pb.StructuredQuery_Order {
	return &pb.StructuredQuery_Order{Field: fref(path), Direction: pb.StructuredQuery_DESCENDING}
}

func from(collectionID string) []*pb.StructuredQuery_CollectionSelector {
	return []*pb.StructuredQuery_CollectionSelector{{CollectionId: collectionID}}
}

func fromGroup(collectionID string) []*pb.StructuredQuery_CollectionSelector {
	return []*pb.StructuredQuery_CollectionSelector{{CollectionId: collectionID, AllDescendants: true}}
}

// startAt and friends build cursors the way the client libraries do: before is true for
// start_at and end_before.
func startAt(vs ...*pb.Value) *pb.Cursor    { return &pb.Cursor{Values: vs, Before: true} }
func startAfter(vs ...*pb.Value) *pb.Cursor { return &pb.Cursor{Values: vs} }
func endAt(vs ...*pb.Value) *pb.Cursor      { return &pb.Cursor{Values: vs} }
func endBefore(vs ...*pb.Value) *pb.Cursor  { return &pb.Cursor{Values: vs, Before: true} }

func limit(n int32) *wrapperspb.Int32Value { return wrapperspb.Int32(n) }

func selectFields(paths ...string) *pb.StructuredQuery_Projection {
	p := &pb.StructuredQuery_Projection{}
	for _, path := range paths {
		p.Fields = append(p.Fields, fref(path))
	}
	return p
}

// splitPath turns "a/b/c/d" into a parent path.
func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// runQuery compiles sq below parent and returns the emitted documents.
func runQuery(t *testing.T, parent string, sq *pb.StructuredQuery, src Source) []*storage.Version {
	t.Helper()
	q, err := Compile(testDB, splitPath(parent), sq)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	var out []*storage.Version
	if err := q.Run(context.Background(), src, func(v *storage.Version) error {
		out = append(out, v)
		return nil
	}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return out
}

// ids lists the documents' ids.
func ids(docs []*storage.Version) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.Path[len(d.Path)-1]
	}
	return out
}

func checkIDs(t *testing.T, got []*storage.Version, want ...string) {
	t.Helper()
	if g := ids(got); !slices.Equal(g, want) {
		t.Errorf("got documents %q, want %q", g, want)
	}
}
