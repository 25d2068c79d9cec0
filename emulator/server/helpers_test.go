package server

import (
	"context"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/txn"
)

const (
	dbName = "projects/proj/databases/(default)"
	root   = dbName + "/documents"
)

// newServer returns a Server over an engine and in-memory store that close with the test.
func newServer(t *testing.T) *Server {
	t.Helper()
	store, err := storage.Open(storage.Options{InMemory: true})
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	engine := txn.New(txn.Options{Store: store})
	t.Cleanup(engine.Close)
	return New(Options{Engine: engine})
}

func intV(n int64) *pb.Value { return &pb.Value{ValueType: &pb.Value_IntegerValue{IntegerValue: n}} }

func strV(s string) *pb.Value { return &pb.Value{ValueType: &pb.Value_StringValue{StringValue: s}} }

// update is a write setting the document at root/path to fields.
func update(path string, fields map[string]*pb.Value) *pb.Write {
	return &pb.Write{Operation: &pb.Write_Update{Update: &pb.Document{Name: root + "/" + path, Fields: fields}}}
}

func increment(path string, by *pb.Value) *pb.DocumentTransform_FieldTransform {
	return &pb.DocumentTransform_FieldTransform{
		FieldPath:     path,
		TransformType: &pb.DocumentTransform_FieldTransform_Increment{Increment: by},
	}
}

// exists reports whether the document at root/path exists, failing the test on other errors.
func exists(t *testing.T, s *Server, path string) bool {
	t.Helper()
	_, err := s.GetDocument(context.Background(), &pb.GetDocumentRequest{Name: root + "/" + path})
	switch status.Code(err) {
	case codes.OK:
		return true
	case codes.NotFound:
		return false
	}
	t.Fatalf("GetDocument(%s): %v", path, err)
	return false
}

// wantBadRequest fails unless err is INVALID_ARGUMENT with BadRequest details naming field.
func wantBadRequest(t *testing.T, err error, field string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		t.Fatalf("error %v, want INVALID_ARGUMENT", err)
	}
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
				if v.GetField() == field {
					if v.GetDescription() == "" {
						t.Errorf("the violation of %s has no description", field)
					}
					return
				}
			}
		}
	}
	t.Fatalf("INVALID_ARGUMENT %q names fields %q in its BadRequest details, want %q", st.Message(), fields, field)
}
