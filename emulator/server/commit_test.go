package server

import (
	"context"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// TestResentTransactionalCommit checks the answers to a transactional Commit that arrives again,
// as it does when the client re-sends after a lost answer: the same writes get the first response
// and apply nothing; other writes get INVALID_ARGUMENT, as for any ended transaction.
func TestResentTransactionalCommit(t *testing.T) {
	ctx := context.Background()
	counted := func(by int64) *pb.Write {
		w := update("c/x", map[string]*pb.Value{"s": strV("set")})
		w.UpdateTransforms = []*pb.DocumentTransform_FieldTransform{increment("n", intV(by))}
		return w
	}
	tests := []struct {
		name     string
		again    []*pb.Write
		wantCode codes.Code
	}{
		{"same writes", []*pb.Write{counted(1)}, codes.OK},
		{"other writes", []*pb.Write{counted(2)}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			begun, err := s.BeginTransaction(ctx, &pb.BeginTransactionRequest{Database: dbName})
			if err != nil {
				t.Fatalf("BeginTransaction: %v", err)
			}
			req := &pb.CommitRequest{Database: dbName, Writes: []*pb.Write{counted(1)}, Transaction: begun.GetTransaction()}
			first, err := s.Commit(ctx, proto.Clone(req).(*pb.CommitRequest))
			if err != nil {
				t.Fatalf("Commit: %v", err)
			}
			again, err := s.Commit(ctx, &pb.CommitRequest{Database: dbName, Writes: tt.again, Transaction: begun.GetTransaction()})
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("re-sent Commit: %v, want code %v", err, tt.wantCode)
			}
			if err == nil && !proto.Equal(again, first) {
				t.Errorf("re-sent Commit answered %v, want the first answer %v", again, first)
			}
			d, err := s.GetDocument(ctx, &pb.GetDocumentRequest{Name: root + "/c/x"})
			if err != nil {
				t.Fatalf("GetDocument: %v", err)
			}
			if n := d.GetFields()["n"].GetIntegerValue(); n != 1 {
				t.Errorf("n = %d, want 1: the transaction applied once", n)
			}
		})
	}
}
