package server

import (
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/value"
)

func timestampOf(us int64) *timestamppb.Timestamp {
	if us == 0 {
		return nil
	}
	return timestamppb.New(time.UnixMicro(us))
}

// microsOf converts a client timestamp to microseconds. exact is false when the timestamp carries
// sub-microsecond digits, which no stored time has.
func microsOf(ts *timestamppb.Timestamp) (us int64, exact bool) {
	return ts.GetSeconds()*1_000_000 + int64(ts.GetNanos()/1000), ts.GetNanos()%1000 == 0
}

// readTimeOf validates a read_time field and converts it to microseconds, truncating anything
// finer, as production does.
func readTimeOf(field string, ts *timestamppb.Timestamp) (int64, error) {
	if ts == nil {
		return 0, nil
	}
	if err := ts.CheckValid(); err != nil {
		return 0, invalid(field, err.Error())
	}
	us, _ := microsOf(ts)
	if us <= 0 {
		return 0, invalid(field, "must be after the Unix epoch")
	}
	return us, nil
}

// document converts a stored version to the API's Document, keeping only masked fields when a
// mask is given.
func document(db resource.Database, v *storage.Version, mask []value.FieldPath) *pb.Document {
	fields := v.Fields
	if mask != nil {
		fields = value.Project(fields, mask)
	}
	return &pb.Document{
		Name:       db.DocumentName(v.Path),
		Fields:     fields,
		CreateTime: timestampOf(v.CreateTime),
		UpdateTime: timestampOf(v.UpdateTime),
	}
}

// maskOf parses a DocumentMask; nil means "all fields".
func maskOf(field string, m *pb.DocumentMask) ([]value.FieldPath, error) {
	if m == nil {
		return nil, nil
	}
	paths := make([]value.FieldPath, 0, len(m.GetFieldPaths()))
	for i, s := range m.GetFieldPaths() {
		p, err := value.ParseFieldPath(s)
		if err != nil {
			return nil, invalid(indexed(field+".field_paths", i), err.Error())
		}
		paths = append(paths, p)
	}
	return paths, nil
}
