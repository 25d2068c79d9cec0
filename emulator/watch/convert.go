package watch

import (
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
)

func timestampOf(us int64) *timestamppb.Timestamp {
	return timestamppb.New(time.UnixMicro(us))
}

// document converts a live stored version to the API's Document.
func document(db resource.Database, v *storage.Version) *pb.Document {
	return &pb.Document{
		Name:       db.DocumentName(v.Path),
		Fields:     v.Fields,
		CreateTime: timestampOf(v.CreateTime),
		UpdateTime: timestampOf(v.UpdateTime),
	}
}
