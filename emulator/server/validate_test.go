package server

import (
	"context"
	"fmt"
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// invalidWrites are writes the gRPC surface must refuse. Each goes in a request after a valid
// write, at index 1, so field names the field under writes[1] (or a request-level field).
var invalidWrites = []struct {
	name  string
	write *pb.Write
	field string
}{
	{"no operation", &pb.Write{}, "writes[1].operation"},
	{"update name is a collection", update("c", nil), "writes[1].update.name"},
	{"update name is empty", &pb.Write{Operation: &pb.Write_Update{Update: &pb.Document{}}}, "writes[1].update.name"},
	{"update name is malformed", &pb.Write{Operation: &pb.Write_Update{Update: &pb.Document{Name: "documents/c/x"}}}, "writes[1].update.name"},
	{"update name has a reserved id", update("c/__x__", nil), "writes[1].update.name"},
	{"update name has an empty id", update("c//d/x", nil), "writes[1].update.name"},
	{"update name in another database", &pb.Write{Operation: &pb.Write_Update{Update: &pb.Document{
		Name: "projects/proj/databases/other/documents/c/x"}}}, "writes[1].update.name"},
	{"update name in another project", &pb.Write{Operation: &pb.Write_Update{Update: &pb.Document{
		Name: "projects/other/databases/(default)/documents/c/x"}}}, "writes[1].update.name"},
	{"delete name in another database", &pb.Write{Operation: &pb.Write_Delete{
		Delete: "projects/proj/databases/other/documents/c/x"}}, "writes[1].delete"},
	{"delete name is the root", &pb.Write{Operation: &pb.Write_Delete{Delete: root}}, "writes[1].delete"},
	{"transform document is invalid", &pb.Write{Operation: &pb.Write_Transform{Transform: &pb.DocumentTransform{
		Document: root + "/c"}}}, "writes[1].transform.document"},

	{"invalid field path in mask", withMask(update("c/x", nil), "a..b"), "writes[1].update_mask.field_paths[0]"},
	{"empty field path in mask", withMask(update("c/x", nil), "a", ""), "writes[1].update_mask.field_paths[1]"},
	{"unterminated quote in mask", withMask(update("c/x", nil), "`a"), "writes[1].update_mask.field_paths[0]"},
	{"invalid field path in transform", withTransforms(update("c/x", nil), increment("a.", intV(1))),
		"writes[1].update_transforms[0].field_path"},
	{"invalid field path in a transform write", &pb.Write{Operation: &pb.Write_Transform{Transform: &pb.DocumentTransform{
		Document: root + "/c/x", FieldTransforms: []*pb.DocumentTransform_FieldTransform{increment("", intV(1))}}}},
		"writes[1].transform.field_transforms[0].field_path"},
	{"transform without a type", withTransforms(update("c/x", nil), &pb.DocumentTransform_FieldTransform{FieldPath: "n"}),
		"writes[1].update_transforms[0]"},
	{"duplicate transforms", withTransforms(update("c/x", nil), increment("n", intV(1)), increment("n", intV(2))),
		"writes[1].update_transforms[1].field_path"},
	{"duplicate transforms, quoted", withTransforms(update("c/x", nil), increment("n", intV(1)), increment("`n`", intV(2))),
		"writes[1].update_transforms[1].field_path"},
	{"transform inside a transformed field", withTransforms(update("c/x", nil), increment("m", intV(1)), increment("m.x", intV(2))),
		"writes[1].update_transforms[1].field_path"},
	{"transform around a transformed field", withTransforms(update("c/x", nil), increment("m.x", intV(1)), increment("m", intV(2))),
		"writes[1].update_transforms[1].field_path"},
	{"transform of a masked field", withTransforms(withMask(update("c/x", nil), "n"), increment("n", intV(1))),
		"writes[1].update_transforms[0].field_path"},
	{"transform inside a masked field", withTransforms(withMask(update("c/x", nil), "a", "m"), increment("m.x", intV(1))),
		"writes[1].update_transforms[0].field_path"},
	{"transform around a masked field", withTransforms(withMask(update("c/x", nil), "m.x"), increment("m", intV(1))),
		"writes[1].update_transforms[0].field_path"},
	{"501 transforms", withTransforms(update("c/x", nil), manyIncrements(501)...), "writes[1].update_transforms"},
	{"delete with a mask", withMask(&pb.Write{Operation: &pb.Write_Delete{Delete: root + "/c/x"}}, "a"), "writes[1]"},
	{"delete with an empty mask", &pb.Write{Operation: &pb.Write_Delete{Delete: root + "/c/x"}, UpdateMask: &pb.DocumentMask{}}, "writes[1]"},
	{"delete with transforms", withTransforms(&pb.Write{Operation: &pb.Write_Delete{Delete: root + "/c/x"}}, increment("n", intV(1))), "writes[1]"},
	{"transform write with a mask", withMask(&pb.Write{Operation: &pb.Write_Transform{Transform: &pb.DocumentTransform{
		Document: root + "/c/x"}}}, "a"), "writes[1]"},

	{"value without a type", update("c/x", map[string]*pb.Value{"a": {}}), "writes[1].update.fields"},
	{"nested value without a type", update("c/x", map[string]*pb.Value{"m": mapOf("k", &pb.Value{})}), "writes[1].update.fields"},
	{"invalid UTF-8 string", update("c/x", map[string]*pb.Value{"s": strV("\xff")}), "writes[1].update.fields"},
	{"invalid UTF-8 field name", update("c/x", map[string]*pb.Value{"\xff": intV(1)}), "writes[1].update.fields"},
	{"empty field name", update("c/x", map[string]*pb.Value{"": intV(1)}), "writes[1].update.fields"},
	{"reserved field name", update("c/x", map[string]*pb.Value{"__x__": intV(1)}), "writes[1].update.fields"},
	{"timestamp out of range", update("c/x", map[string]*pb.Value{"t": {ValueType: &pb.Value_TimestampValue{
		TimestampValue: &timestamppb.Timestamp{Seconds: 253402300800}}}}), "writes[1].update.fields"},
	{"array inside an array", update("c/x", map[string]*pb.Value{"a": arrayOf(arrayOf(intV(1)))}), "writes[1].update.fields"},
	{"reference that is not a document", update("c/x", map[string]*pb.Value{"r": {ValueType: &pb.Value_ReferenceValue{
		ReferenceValue: root + "/c"}}}), "writes[1].update.fields"},
	{"transform operand without a type", withTransforms(update("c/x", nil), increment("n", &pb.Value{})),
		"writes[1].update_transforms[0]"},
	{"transform operand missing", withTransforms(update("c/x", nil), increment("n", nil)), "writes[1].update_transforms[0]"},
	{"increment by a string", withTransforms(update("c/x", nil), increment("n", strV("1"))), "writes[1].update_transforms[0]"},
	{"maximum of a map", withTransforms(update("c/x", nil), &pb.DocumentTransform_FieldTransform{FieldPath: "n",
		TransformType: &pb.DocumentTransform_FieldTransform_Maximum{Maximum: mapOf("k", intV(1))}}), "writes[1].update_transforms[0]"},
	{"server value unspecified", withTransforms(update("c/x", nil), &pb.DocumentTransform_FieldTransform{FieldPath: "t",
		TransformType: &pb.DocumentTransform_FieldTransform_SetToServerValue{}}), "writes[1].update_transforms[0]"},
	{"precondition update_time with bad nanos", withPrecondition(update("c/x", nil), &timestamppb.Timestamp{Seconds: 1, Nanos: -1}),
		"writes[1].current_document.update_time"},
	{"precondition update_time before the epoch", withPrecondition(update("c/x", nil), &timestamppb.Timestamp{Seconds: -5}),
		"writes[1].current_document.update_time"},
}

func TestInvalidWritesAreRejected(t *testing.T) {
	good := update("c/good", map[string]*pb.Value{"n": intV(1)})
	type rpc struct {
		name string
		call func(s *Server, db string, writes []*pb.Write) error
	}
	rpcs := []rpc{
		{"Commit", func(s *Server, db string, writes []*pb.Write) error {
			_, err := s.Commit(context.Background(), &pb.CommitRequest{Database: db, Writes: writes})
			return err
		}},
		{"BatchWrite", func(s *Server, db string, writes []*pb.Write) error {
			_, err := s.BatchWrite(context.Background(), &pb.BatchWriteRequest{Database: db, Writes: writes})
			return err
		}},
	}
	type requestCase struct {
		name   string
		db     string
		writes []*pb.Write
		field  string
	}
	var cases []requestCase
	for _, w := range invalidWrites {
		cases = append(cases, requestCase{w.name, dbName, []*pb.Write{good, w.write}, w.field})
	}
	huge := update("c/huge", map[string]*pb.Value{"s": strV(strings.Repeat("x", maxRequestBytes))})
	cases = append(cases,
		requestCase{"database missing", "", []*pb.Write{good}, "database"},
		requestCase{"database malformed", "projects/proj", []*pb.Write{good}, "database"},
		requestCase{"database is a document root", root, []*pb.Write{good}, "database"},
		requestCase{"request over 10 MiB", dbName, []*pb.Write{good, huge}, "request"},
	)
	for _, r := range rpcs {
		t.Run(r.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					s := newServer(t)
					wantBadRequest(t, r.call(s, tc.db, tc.writes), tc.field)
					if exists(t, s, "c/good") {
						t.Fatalf("the valid write of a rejected request was applied")
					}
				})
			}
		})
	}
}

func TestWriteLimitsAreInclusive(t *testing.T) {
	tests := []struct {
		name     string
		writes   []*pb.Write
		wantSize int // of the request; 0 = any
	}{
		{name: "500 transforms", writes: []*pb.Write{withTransforms(update("c/x", nil), manyIncrements(500)...)}},
		{name: "request of exactly 10 MiB", writes: writesOfSize(maxRequestBytes), wantSize: maxRequestBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			req := &pb.CommitRequest{Database: dbName, Writes: tt.writes}
			if n := proto.Size(req); tt.wantSize != 0 && n != tt.wantSize {
				t.Fatalf("built a request of %d bytes, want %d", n, tt.wantSize)
			}
			if _, err := s.Commit(context.Background(), req); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if !exists(t, s, "c/x") {
				t.Errorf("c/x was not written")
			}
		})
	}
}

func TestDocumentRPCsNameTheInvalidField(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{"CreateDocument parent", func() error {
			_, err := s.CreateDocument(ctx, &pb.CreateDocumentRequest{Parent: root + "/c", CollectionId: "c", DocumentId: "x"})
			return err
		}, "parent"},
		{"CreateDocument collection_id", func() error {
			_, err := s.CreateDocument(ctx, &pb.CreateDocumentRequest{Parent: root, CollectionId: "a/b", DocumentId: "x"})
			return err
		}, "collection_id"},
		{"CreateDocument document_id", func() error {
			_, err := s.CreateDocument(ctx, &pb.CreateDocumentRequest{Parent: root, CollectionId: "c", DocumentId: "__x__"})
			return err
		}, "document_id"},
		{"CreateDocument fields", func() error {
			_, err := s.CreateDocument(ctx, &pb.CreateDocumentRequest{Parent: root, CollectionId: "c", DocumentId: "x",
				Document: &pb.Document{Fields: map[string]*pb.Value{"a": {}}}})
			return err
		}, "document.update.fields"},
		{"UpdateDocument name", func() error {
			_, err := s.UpdateDocument(ctx, &pb.UpdateDocumentRequest{Document: &pb.Document{Name: root + "/c"}})
			return err
		}, "document.name"},
		{"UpdateDocument update_mask", func() error {
			_, err := s.UpdateDocument(ctx, &pb.UpdateDocumentRequest{Document: &pb.Document{Name: root + "/c/x"},
				UpdateMask: &pb.DocumentMask{FieldPaths: []string{"a b"}}})
			return err
		}, "document.update_mask.field_paths[0]"},
		{"UpdateDocument response mask", func() error {
			_, err := s.UpdateDocument(ctx, &pb.UpdateDocumentRequest{Document: &pb.Document{Name: root + "/c/x"},
				Mask: &pb.DocumentMask{FieldPaths: []string{"ok", "."}}})
			return err
		}, "mask.field_paths[1]"},
		{"DeleteDocument name", func() error {
			_, err := s.DeleteDocument(ctx, &pb.DeleteDocumentRequest{Name: root})
			return err
		}, "name"},
		{"DeleteDocument precondition", func() error {
			_, err := s.DeleteDocument(ctx, &pb.DeleteDocumentRequest{Name: root + "/c/x",
				CurrentDocument: &pb.Precondition{ConditionType: &pb.Precondition_UpdateTime{UpdateTime: &timestamppb.Timestamp{Nanos: 1e9}}}})
			return err
		}, "request.current_document.update_time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantBadRequest(t, tt.call(), tt.field)
			if exists(t, s, "c/x") {
				t.Fatalf("a rejected request wrote c/x")
			}
		})
	}
}

func TestBatchWriteRejectsTwoWritesToOneDocument(t *testing.T) {
	tests := []struct {
		name   string
		writes []*pb.Write
		field  string
	}{
		{"two updates", []*pb.Write{update("c/a", nil), update("c/x", nil), update("c/x", nil)}, "writes[2]"},
		{"update and delete", []*pb.Write{update("c/x", nil), update("c/a", nil),
			{Operation: &pb.Write_Delete{Delete: root + "/c/x"}}}, "writes[2]"},
		{"update and transform", []*pb.Write{update("c/x", nil), {Operation: &pb.Write_Transform{Transform: &pb.DocumentTransform{
			Document: root + "/c/x", FieldTransforms: []*pb.DocumentTransform_FieldTransform{increment("n", intV(1))}}}}}, "writes[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			_, err := s.BatchWrite(context.Background(), &pb.BatchWriteRequest{Database: dbName, Writes: tt.writes})
			wantBadRequest(t, err, tt.field)
			for _, p := range []string{"c/a", "c/x"} {
				if exists(t, s, p) {
					t.Errorf("%s was written by a rejected request", p)
				}
			}
		})
	}
}

func TestBatchWriteReportsEachWrite(t *testing.T) {
	s := newServer(t)
	missing := update("c/missing", nil)
	missing.CurrentDocument = &pb.Precondition{ConditionType: &pb.Precondition_Exists{Exists: true}}
	resp, err := s.BatchWrite(context.Background(), &pb.BatchWriteRequest{Database: dbName, Writes: []*pb.Write{
		update("c/a", nil), missing, update("c/b", nil),
	}})
	if err != nil {
		t.Fatalf("BatchWrite: %v", err)
	}
	if len(resp.GetStatus()) != 3 || len(resp.GetWriteResults()) != 3 {
		t.Fatalf("got %d statuses and %d results, want 3 of each", len(resp.GetStatus()), len(resp.GetWriteResults()))
	}
	wantCodes := []codes.Code{codes.OK, codes.NotFound, codes.OK}
	for i, want := range wantCodes {
		if got := codes.Code(resp.GetStatus()[i].GetCode()); got != want {
			t.Errorf("status[%d] = %v, want %v", i, got, want)
		}
	}
	a, b := resp.GetWriteResults()[0].GetUpdateTime(), resp.GetWriteResults()[2].GetUpdateTime()
	if a == nil || !proto.Equal(a, b) {
		t.Errorf("successful writes have update times %v and %v, want one shared commit time", a, b)
	}
	if resp.GetWriteResults()[1].GetUpdateTime() != nil {
		t.Errorf("the failed write has an update time")
	}
	if !exists(t, s, "c/a") || !exists(t, s, "c/b") || exists(t, s, "c/missing") {
		t.Errorf("want c/a and c/b written and c/missing not")
	}
}

func TestCommitWithInvalidWriteEndsItsTransaction(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	begun, err := s.BeginTransaction(ctx, &pb.BeginTransactionRequest{Database: dbName})
	if err != nil {
		t.Fatalf("BeginTransaction: %v", err)
	}
	_, err = s.Commit(ctx, &pb.CommitRequest{Database: dbName, Transaction: begun.GetTransaction(), Writes: []*pb.Write{{}}})
	wantBadRequest(t, err, "writes[0].operation")
	_, err = s.Commit(ctx, &pb.CommitRequest{Database: dbName, Transaction: begun.GetTransaction()})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("committing the transaction again: %v, want INVALID_ARGUMENT as it has ended", err)
	}
}

func withMask(w *pb.Write, paths ...string) *pb.Write {
	w = proto.Clone(w).(*pb.Write)
	w.UpdateMask = &pb.DocumentMask{FieldPaths: paths}
	return w
}

func withTransforms(w *pb.Write, ts ...*pb.DocumentTransform_FieldTransform) *pb.Write {
	w = proto.Clone(w).(*pb.Write)
	w.UpdateTransforms = ts
	return w
}

func withPrecondition(w *pb.Write, updateTime *timestamppb.Timestamp) *pb.Write {
	w = proto.Clone(w).(*pb.Write)
	w.CurrentDocument = &pb.Precondition{ConditionType: &pb.Precondition_UpdateTime{UpdateTime: updateTime}}
	return w
}

func manyIncrements(n int) []*pb.DocumentTransform_FieldTransform {
	out := make([]*pb.DocumentTransform_FieldTransform, n)
	for i := range out {
		out[i] = increment(fmt.Sprintf("f%d", i), intV(1))
	}
	return out
}

func mapOf(k string, v *pb.Value) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_MapValue{MapValue: &pb.MapValue{Fields: map[string]*pb.Value{k: v}}}}
}

func arrayOf(vs ...*pb.Value) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_ArrayValue{ArrayValue: &pb.ArrayValue{Values: vs}}}
}

// writesOfSize returns writes to c/x, c/y1, c/y2, ..., each document under the 1 MiB limit,
// whose CommitRequest is size bytes.
func writesOfSize(size int) []*pb.Write {
	const chunk = 1000 << 10
	req := &pb.CommitRequest{Database: dbName}
	for i := 0; ; i++ {
		name := "c/x"
		if i > 0 {
			name = fmt.Sprintf("c/y%d", i)
		}
		w := update(name, map[string]*pb.Value{"s": strV("")})
		req.Writes = append(req.Writes, w)
		if size-proto.Size(req) <= chunk {
			// Length prefixes grow with the string, so a few corrections may be needed.
			field := w.GetUpdate().GetFields()["s"]
			for range 5 {
				str := field.GetStringValue()
				n := size - proto.Size(req)
				if n < 0 {
					str = str[:len(str)+n]
				} else {
					str += strings.Repeat("x", n)
				}
				field.ValueType = &pb.Value_StringValue{StringValue: str}
			}
			return req.Writes
		}
		w.GetUpdate().Fields["s"] = strV(strings.Repeat("x", chunk))
	}
}
