package watch

import (
	"context"
	"errors"
	"fmt"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
)

// sendGone tells the client that the document name left the targets ids at time at: deleted,
// or still there but no longer a result.
func (s *stream) sendGone(snap *storage.Snapshot, name string, ids []int32, at int64) error {
	_, path, err := resource.ParseDocumentName(name)
	if err != nil {
		return fmt.Errorf("watch: a known document has a bad name: %w", err)
	}
	v, err := snap.Get(path)
	if err != nil {
		return err
	}
	if v == nil {
		return s.send(&pb.ListenResponse{ResponseType: &pb.ListenResponse_DocumentDelete{DocumentDelete: &pb.DocumentDelete{Document: name, RemovedTargetIds: ids, ReadTime: timestampOf(at)}}})
	}
	return s.send(&pb.ListenResponse{ResponseType: &pb.ListenResponse_DocumentRemove{DocumentRemove: &pb.DocumentRemove{Document: name, RemovedTargetIds: ids, ReadTime: timestampOf(at)}}})
}

// sendSnapshot tells the client that all its targets are consistent at the stream's time.
func (s *stream) sendSnapshot() error {
	if len(s.targets) == 0 || s.time == 0 {
		return nil
	}
	return s.sendTarget(&pb.TargetChange{TargetChangeType: pb.TargetChange_NO_CHANGE, ResumeToken: encodeToken(s.time), ReadTime: timestampOf(s.time)})
}

func (s *stream) sendTarget(tc *pb.TargetChange) error {
	return s.send(&pb.ListenResponse{ResponseType: &pb.ListenResponse_TargetChange{TargetChange: tc}})
}

func (s *stream) sendDoc(dc *pb.DocumentChange) error {
	return s.send(&pb.ListenResponse{ResponseType: &pb.ListenResponse_DocumentChange{DocumentChange: dc}})
}

// feedError turns a failure of the engine's feed into the status the client sees: retryable,
// as the emulator is ending or storage failed.
func feedError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return status.Errorf(codes.Unavailable, "listening is not available: %v", err)
}
